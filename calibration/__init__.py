"""A calibration session -> an adapted model: epochs at the cues, preparation (windows, repair,
alignment), the fine-tuning loop, the one CalibrationJob (prepare -> fine-tune -> gate -> save) and
the job as a scikit-learn estimator."""
