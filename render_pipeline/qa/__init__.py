"""Shot QA: each rendered shot checked for lettering, frozen or looping motion, flicker and seams.

check.py runs every check on one shot file; each check is a file of its own (lettering.py,
motion.py, flicker.py, seams.py) over frames decoded through media/ffmpeg.py (frames.py).
"""
