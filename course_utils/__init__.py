"""Companion package of the course "Neural networks, from the perceptron to transfer learning".

Importing it is cheap: it loads neither PyTorch nor TensorFlow. It is organised by audience.
What the notebooks import sits at the top:

- :mod:`course_utils.profile`    - the run profile (``COURSE_PROFILE``: smoke, full, gpu), seeding
- :mod:`course_utils.data`       - seeded synthetic data and offline dataset loaders
- :mod:`course_utils.plotting`   - figures used across chapters
- :mod:`course_utils.glue`       - results of the code pasted into the book's prose
- :mod:`course_utils.metrics`    - named results a notebook records for the benchmark report
- :mod:`course_utils.frameworks` - PyTorch/Keras helpers; ``require_framework`` for optional imports
- :mod:`course_utils.pretrained` - chapter 14's source model
- :mod:`course_utils.backprop`   - chapter 05's NumPy network, shared with chapter 06
- :mod:`course_utils.links`      - a chapter's "Open in Colab" badges
- :mod:`course_utils.checks`     - the exercise checks and their registry

The authoring tools (chapters and their files, the exercise generator, the course map, the
book's Sphinx extension, publishing, the benchmark, mutation testing, the notebook runner)
are in :mod:`course_utils.authoring`; the batch grader, with the agent that runs inside its
sandbox, in :mod:`course_utils.grading`.
"""

from course_utils.profile import Profile, get_profile

__version__ = "0.1.0"
__all__ = ["Profile", "get_profile", "__version__"]
