"""The authoring tools of the course (not imported by notebooks): the chapters and their files
(:mod:`.chapters`), the exercise generator and ``sync`` (:mod:`.exercises`), the course map
(:mod:`.coursemap`), the book's Sphinx extension (:mod:`.sphinxext`), publishing
(:mod:`.publish`), the benchmark (:mod:`.benchmark`), mutation testing of the checks
(:mod:`.mutation`) and the notebook runner with every kernel's environment (:mod:`.notebooks`).
"""
