"""Generated from `repository:` in _config.yml by `python -m course_utils sync`; do not edit."""

URL = 'https://github.com/open-nn-course/nn-course'
BRANCH = 'main'
PATH_TO_BOOK = ''
