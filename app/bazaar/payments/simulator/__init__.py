"""The bundled payment-provider simulator.

Run it with `bazaar psp-simulator` or `python -m bazaar.payments.simulator`.
"""
