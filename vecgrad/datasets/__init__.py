"""Data shipped inside the package (read with importlib.resources, never pickled).

digits.npz: the 1,797 8x8 images (``images``, uint8 0..16, shape (1797, 8, 8)) and labels
(``labels``, uint8 0..9) of "Optical Recognition of Handwritten Digits" (E. Alpaydin,
C. Kaynak; UCI Machine Learning Repository, CC BY 4.0), as bundled by scikit-learn's
``load_digits()`` (BSD-3-Clause). Load it with ``vecgrad.data.load_digits_arrays()`` or
``vecgrad.data.load_dataset("digits")``.
"""
