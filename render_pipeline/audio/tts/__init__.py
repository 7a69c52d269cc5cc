"""Text-to-speech engines behind one small interface (see ``base.py``); ``choose.py`` picks one."""
