"""Measuring recipes offline and choosing their settings from the measurements.

``splits`` carves test data (Personalize's split and Recommenders' stratified one), ``metrics``
holds the ranking metrics, ``tasks`` scores a model on a task, ``validation`` carves folds from
training data and judges one candidate against another, ``tuning`` chooses settings as
``srs train`` does (with ``blending`` learning the blend's weights) and ``comparison`` compares
every recipe with popularity as the baseline.
"""
