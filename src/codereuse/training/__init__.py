"""The training service: one ``train.py`` run (build, fit, test, report), resume, stopping and history."""
