/* MathJax is not installed (pip install django-static-mathjax): formulas show as TeX source. */
