"""Student code read without running it (notebook, lift, annotations, arithmetic) and run on hidden cases."""
