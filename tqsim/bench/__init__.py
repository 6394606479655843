"""Benchmarks shipped with tqsim: the ``tqsim bench ...`` peers and the timing helpers they share.

:mod:`tqsim.bench.qutip` is ``tqsim bench qutip`` (also run as
``python -m tqsim.bench.qutip``); :mod:`tqsim.bench.tools` holds the seeded
brickwork circuits and the timer that ``benchmarks/`` uses too.
"""
