"""Text extractors, one module per kind of file; :mod:`artefacts.extract` registers them.

Every module imports its libraries (pypdf, python-docx, Pillow, mutagen) inside its
functions, so importing this package or :mod:`artefacts.extract` stays cheap.
"""
