"""Runs the solana.py tests (tests/py/test_*.py) and prints `# pass N` / `# fail N`, the lines
scripts/test adds to its total (as node's test runner prints them)."""
import sys
import unittest
from pathlib import Path

suite = unittest.defaultTestLoader.discover(str(Path(__file__).parent))
result = unittest.TextTestRunner(verbosity=2).run(suite)
failed = len(result.failures) + len(result.errors)
print(f"# pass {result.testsRun - failed}")
print(f"# fail {failed}")
sys.exit(0 if result.wasSuccessful() else 1)
