"""Companion package of the course "Neural networks, from the perceptron to transfer learning".

Importing it is cheap: it loads neither PyTorch nor TensorFlow. Sub-modules:

- :mod:`course_utils.profile`  - the run profile (``COURSE_PROFILE``: smoke, full, gpu)
- :mod:`course_utils.data`     - seeded synthetic data and offline dataset loaders
- :mod:`course_utils.plotting` - figures used across chapters
- :mod:`course_utils.checks`   - exercise checks and their registry
- :mod:`course_utils.chapters` - the chapters: names ``NN-slug``, ids, notebook files
- :mod:`course_utils.notebooks` - the one notebook runner and every kernel's environment
- :mod:`course_utils.backprop` - chapter 05's NumPy network, shared with chapter 06
- :mod:`course_utils.frameworks` - PyTorch/Keras helpers; ``require_framework`` for optional imports
- :mod:`course_utils.links`    - where the course lives (``_config.yml``'s ``repository:``), "Open in Colab" links
- :mod:`course_utils.exercises` - writes exercises/ from solutions/
- :mod:`course_utils.glue`     - results of the code pasted into the book's prose
- :mod:`course_utils.metrics`  - named results a notebook records for the benchmark report
- :mod:`course_utils.grading`  - batch grading of submitted notebooks
- :mod:`course_utils.publish`  - the build stamp, and publishing the built book to gh-pages
"""

from course_utils.profile import Profile, get_profile

__version__ = "0.1.0"
__all__ = ["Profile", "get_profile", "__version__"]
