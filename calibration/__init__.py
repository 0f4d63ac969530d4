"""Turning a calibration session into an adapted model: paradigm, epochs, fine-tuning, pretraining."""
