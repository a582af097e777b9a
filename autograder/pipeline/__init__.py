"""One notebook's pipeline: stage -> execute -> score -> report, chained by :mod:`.grade`."""
