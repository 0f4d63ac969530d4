"""Signal processing shared by training and online decoding (Qt-free).

- :mod:`bci_app.signal.channels`: channel-name normalisation, matching, montage constants.
- :mod:`bci_app.signal.filters`: stateful causal band-pass and streaming rational resampler.
- :mod:`bci_app.signal.preprocess`: :class:`PreprocessingSpec`, :class:`StreamingPreprocessor`,
  the one final step :func:`final_step` (:func:`finalize_window` with a spec), Euclidean alignment,
  artifact rejection.
"""
