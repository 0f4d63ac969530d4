"""Signal processing shared by training and online decoding (Qt-free).

- :mod:`bci_app.signal.channels`: channel-name normalisation, matching, montage constants.
- :mod:`bci_app.signal.filters`: stateful causal band-pass and streaming rational resampler.
- :mod:`bci_app.signal.preprocess`: :class:`PreprocessingSpec`, :class:`StreamingPreprocessor`,
  :func:`finalize_window`, Euclidean alignment, artifact rejection.
"""
