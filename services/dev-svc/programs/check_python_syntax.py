"""CODE_CHECK's syntax check of a Python repository (dev-svc runs it with `python3 -I -S`).

Reads a JSON list of files `[{"path": ..., "source": <base64>}]` on stdin and writes
`{"python": <version>, "problems": [{"file", "line", "column", "message"}]}` on stdout. Every file is
compiled with `compile(source, path, "exec")`: parsed and compiled to bytecode, never run (nothing is
imported, no module-level statement executes). Python's own rules apply, encoding declarations
included.
"""

import base64
import json
import platform
import sys
import warnings


def check(files):
    problems = []
    for f in files:
        path = f["path"]
        try:
            compile(base64.b64decode(f["source"]), path, "exec", dont_inherit=True)
        except SyntaxError as e:
            problems.append({"file": path, "line": e.lineno, "column": e.offset, "message": e.msg})
        except Exception as e:  # e.g. ValueError for a NUL byte: reported, never fatal
            problems.append(
                {"file": path, "line": None, "column": None, "message": type(e).__name__ + ": " + str(e)}
            )
    return problems


def main():
    warnings.simplefilter("ignore")
    problems = check(json.load(sys.stdin))
    json.dump({"python": platform.python_version(), "problems": problems}, sys.stdout)


if __name__ == "__main__":
    main()
