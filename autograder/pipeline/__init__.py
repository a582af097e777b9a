"""The four stages (stage, execute, score, report), the orchestrator (grade), and what a class run needs."""
