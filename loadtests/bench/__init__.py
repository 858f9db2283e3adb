"""``make bench``: what each layer of the stack costs, as ratios against baselines run in the
same session on the same machine (see ``suite.py``). The bare-Django baseline app is this
package itself: ``settings.py``, ``models.py``, ``views.py``, ``urls.py``."""
