"""The progress bar, imported when the first bar is made: ``import solvers`` stays free of tqdm.

``tqdm(*args, **kwargs)`` is ``tqdm.auto.tqdm(*args, **kwargs)``; tqdm.auto picks the notebook
bar under Jupyter (ipywidgets), which is what an import at module level would load for every
``import solvers`` (tests/test_import_time.py checks that it does not).
"""


def tqdm(*args, **kwargs):
    """A ``tqdm.auto.tqdm`` bar; tqdm is imported on the first call."""
    from tqdm.auto import tqdm as bar

    return bar(*args, **kwargs)
