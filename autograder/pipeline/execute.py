"""Execute: run a staged notebook with papermill, in a kernel of its own.

Limits: a timeout per cell and a deadline for the whole notebook (each cell
gets whichever ends first), a cap on the bytes of output kept, caps on what its
folders hold while it runs (:class:`DiskWatch`), and a kernel environment
reduced to an allow-list (no tokens or credentials). With a
:class:`autograder.sandbox.Sandbox` the kernel runs inside it and papermill
talks to it over Unix sockets (jupyter_client's ``ipc`` transport) in a
folder bound into the sandbox, since the sandbox has no network.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from autograder.results import CheckResult, Status
from autograder.rubric import Limits
from autograder.sandbox import Sandbox, hand_over, kernel_environment


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"  # IPython's own: figures become cell outputs
# How long a cell's output may trail its reply (nbclient's iopub_timeout: 4 s by default, after which papermill
# stops the notebook as if a cell had timed out, on a busy machine). Capped by what is left of the deadline.
IOPUB_GRACE_SECONDS = 60
DISK_POLL_SECONDS = 1.0  # how often the notebook's own folders are measured against disk_bytes and disk_files
KERNEL_LOG_KEPT = 64_000  # bytes of the kernel's own stderr kept after the run (its last words are at the end)
# The row execution adds when the notebook's kernel never started (no cell of the notebook ran): the grader's own
# machinery failed (the kernel or its sandbox could not be launched, or did not answer in time), not the student.
# A class run stores such a notebook as one to retry, never as a grade (autograder.classrun.run.grader_failure).
KERNEL_START = "kernel_start"


@dataclass(frozen=True)
class Execution:
    status: Optional[Status]  # None: ran to the end; else ERROR, TIMEOUT or KERNEL_DIED
    message: str
    executed: Path  # the executed notebook (partial when execution stopped early)
    cell_seconds: float  # time spent inside cells, as papermill measured it
    wall_seconds: float
    output_truncated: bool
    output_bytes: int  # the cap that truncated it
    kernel_not_started: bool = False  # the kernel never answered: no cell ran (the grader's failure)

    @property
    def ok(self) -> bool:
        return self.status is None

    def results(self, assignment: str) -> list[CheckResult]:
        """Execution's own rows of the report: a ``kernel_start`` error when the kernel never started, an
        ``output_size`` flag when output was dropped."""
        rows = []
        if self.kernel_not_started:
            rows.append(CheckResult(assignment, KERNEL_START, "The grader started the notebook's kernel", 0.0, 0.0,
                                    Status.ERROR, self.message))
        if self.output_truncated:
            rows.append(CheckResult(assignment, "output_size", "Cell output stays within the limit", 0.0, 0.0,
                                    Status.FAIL, f"output beyond {self.output_bytes:,} bytes was dropped"))
        return rows


def _limited_client():
    """papermill's notebook client, capping output and enforcing a notebook deadline (in the sandbox, if set)."""
    from papermill.clientwrap import PapermillNotebookClient

    class LimitedClient(PapermillNotebookClient):
        def __init__(self, nb_man, output_limit: int, deadline: float, cell_timeout: float,
                     sandbox: Optional[Sandbox], socket_dir: Optional[Path], **kw):
            super().__init__(nb_man, kernel_manager_class=_sandboxed_kernel_manager(), **kw)
            self.sandbox, self.socket_dir = sandbox, socket_dir
            self.output_limit = output_limit
            self.output_bytes = 0
            self.kernel_started = False  # set once the kernel answered its first request
            self.truncated = False
            self.deadline = deadline
            self.cell_timeout = cell_timeout
            self.timeout_func = self._timeout_for
            # Outputs are all in once the last cell replies: kill the kernel rather than wait
            # for a graceful exit (a kernel holding TensorFlow takes seconds to shut down).
            self.shutdown_kernel = "immediate"

        def start_new_kernel_client(self):
            """nbclient's start (papermill's sync path), noting that the kernel answered: a failure before this
            is the grader's (no student code has run), one after it the notebook's."""
            client = super().start_new_kernel_client()
            self.kernel_started = True
            return client

        def create_kernel_manager(self):
            km = super().create_kernel_manager()
            if self.sandbox is not None:
                km.sandbox, km.sandbox_cwd = self.sandbox, Path.cwd()  # papermill has moved into the notebook's folder
                km.transport, km.ip = "ipc", str(self.socket_dir / "kernel")
                km.connection_file = str(self.socket_dir / "kernel.json")
            return km

        def _timeout_for(self, cell) -> int:
            """The cell's time limit; sets how long its output may trail its reply too (asked once per cell)."""
            left = self.deadline - time.monotonic()
            self.iopub_timeout = max(1, int(min(IOPUB_GRACE_SECONDS, left)))
            return max(1, int(min(self.cell_timeout, left)))

        def output(self, outs, msg, display_id, cell_index):
            size = len(json.dumps(msg.get("content", {}), default=str))
            if self.output_bytes + size > self.output_limit:
                if not self.truncated:
                    self.truncated = True
                    outs.append(_stream(f"\n[autograder: output beyond {self.output_limit:,} bytes was dropped]\n"))
                return None
            self.output_bytes += size
            return super().output(outs, msg, display_id, cell_index)

    return LimitedClient


def _engine():
    """A papermill engine whose client caps output and enforces a notebook deadline."""
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.utils import merge_kwargs, remove_args

    LimitedClient = _limited_client()
    logging.getLogger("papermill").setLevel(logging.WARNING)

    class LimitedEngine(NBClientEngine):
        last_client: Any = None

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            limits = {k: kwargs.pop(k) for k in ("output_limit", "deadline", "cell_timeout", "sandbox", "socket_dir")}
            kernel_env = kwargs.pop("kernel_env")
            kernel_log = kwargs.pop("kernel_log")
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(kwargs, startup_timeout=start_timeout, kernel_name=kernel_name,
                                 log=logging.getLogger("papermill"), log_output=False)
            client = LimitedClient(nb_man, **limits, **final)
            cls.last_client = client
            with open(kernel_log, "ab") as log:  # the kernel process's own stderr: crashes, TF's C++ logs
                return client.execute(env=kernel_env, stdout=log, stderr=log)

    papermill_engines.register("autograder", LimitedEngine)
    return LimitedEngine


def _sandboxed_kernel_manager():
    """jupyter_client's kernel manager, launching the kernel inside the sandbox when one is set."""
    from jupyter_client.manager import AsyncKernelManager

    class SandboxedKernelManager(AsyncKernelManager):
        sandbox: Optional[Sandbox] = None
        sandbox_cwd: Path = Path("/")

        def format_kernel_cmd(self, extra_arguments: Optional[list[str]] = None) -> list[str]:
            command = super().format_kernel_cmd(extra_arguments)
            if self.sandbox is None:
                return command
            hand_over(Path(self.connection_file), slot=self.sandbox.slot)  # written by the grader, read by the sandbox's user
            return self.sandbox.command(command, self.sandbox_cwd)

    return SandboxedKernelManager


def _stream(text: str) -> Any:
    from nbformat.v4 import new_output

    return new_output("stream", name="stderr", text=text)


def execute(notebook: Path, executed: Path, parameters: dict[str, Any], cwd: Path, limits: Limits,
            sandbox: Optional[Sandbox] = None) -> Execution:
    """Run ``notebook`` into ``executed`` under ``limits`` (inside ``sandbox`` when given);
    never raises for what the notebook does."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    engine = _engine()
    watch = DiskWatch(sandbox.writable if sandbox is not None else (cwd,), limits, engine)
    started = time.monotonic()
    deadline = started + limits.notebook_timeout
    status: Optional[Status] = None
    message = "ran to the end"
    not_started = False
    socket_dir = Path(tempfile.mkdtemp(prefix="kernel-")) if sandbox is not None else None
    env = {**kernel_environment(), "MPLBACKEND": INLINE_BACKEND}  # plt.show() draws into the executed notebook
    if sandbox is not None:
        hand_over(socket_dir, slot=sandbox.slot)
        sandbox = dataclasses.replace(sandbox, writable=(*sandbox.writable, socket_dir))
        env = sandbox.environment(env)
    watch.start()
    try:
        papermill.execute_notebook(
            str(notebook), str(executed), parameters=parameters, engine_name="autograder",
            kernel_name="python3", progress_bar=False, cwd=str(cwd), log_output=False,
            output_limit=limits.output_bytes, deadline=deadline, cell_timeout=limits.cell_timeout,
            sandbox=sandbox, socket_dir=socket_dir,
            kernel_env=env, kernel_log=str(executed.with_suffix(".kernel.log")),
        )
    except papermill.PapermillExecutionError as exc:
        status, message = Status.ERROR, _raised(exc, executed, limits, sandbox)
    except CellTimeoutError:
        status = Status.TIMEOUT
        if time.monotonic() >= deadline - 1:
            message = f"the notebook ran past its {limits.notebook_timeout:.0f} s limit and was stopped"
        else:
            message = f"a cell ran past the {limits.cell_timeout:.0f} s limit per cell and was stopped"
        message += _where(executed)
    except DeadKernelError:
        status, message = Status.KERNEL_DIED, "the kernel died (crashed, ran out of memory, or exited)" + _where(executed)
        words = _last_words(executed.with_suffix(".kernel.log"))
        message += _limit_hit("", words, limits, sandbox)
        message += f"; its last words: {words}" if words else ""
    except Exception as exc:  # a kernel that cannot start, a notebook papermill rejects, ...
        status, message = Status.ERROR, f"the notebook could not be executed: {type(exc).__name__}: {_first_line(str(exc))}"
        if engine.last_client is not None and not engine.last_client.kernel_started:
            not_started = True  # the client was made (papermill accepted the notebook); its kernel never answered
            message = (f"the grader could not start the notebook's kernel: {type(exc).__name__}: "
                       f"{_first_line(str(exc))}")
    finally:
        watch.stop()
        if socket_dir is not None:
            shutil.rmtree(socket_dir, ignore_errors=True)
    if watch.exceeded:
        status, message = Status.ERROR, watch.exceeded + _where(executed)
    _keep_tail(executed.with_suffix(".kernel.log"), KERNEL_LOG_KEPT)
    truncated = bool(engine.last_client and engine.last_client.truncated)
    return Execution(status, message, executed, _cell_seconds(executed), time.monotonic() - started, truncated,
                     limits.output_bytes, not_started and not watch.exceeded)


def _raised(exc: Any, executed: Path, limits: Limits, sandbox: Optional[Sandbox]) -> str:
    """What a cell that raised says: the code cell that raised (and the one that called it), and the error."""
    detail = _first_line(exc.evalue)
    raised, caller = raising_cells(executed, exc.exec_count, exc.traceback)
    message = f"{raised} raised {exc.ename}" + (f": {detail}" if detail else "") + (
        f" (called from {caller})" if caller else "")
    if exc.ename == "NotImplementedError":
        message += " (a '# YOUR CODE HERE' cell is not filled in yet?)"
    return message + _limit_hit(exc.ename, str(exc.evalue), limits, sandbox)


class DiskWatch(threading.Thread):
    """Measures the folders a notebook writes to on the grader's disk (its staged folder) while it runs, and
    stops its kernel once they hold more than ``disk_bytes`` or ``disk_files``: RLIMIT_FSIZE caps one file,
    this caps them all (many small files, many large ones)."""

    def __init__(self, folders: Any, limits: Limits, engine: Any) -> None:
        super().__init__(daemon=True)
        folders = [Path(folder) for folder in folders]
        self.folders = tuple(f for f in folders if not any(g in f.parents for g in folders))  # each counted once
        self.limits, self.engine = limits, engine
        self.exceeded = ""  # the message, once the kernel was stopped for it
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(DISK_POLL_SECONDS):
            used, entries = disk_usage(self.folders, self.limits.disk_files + 1)
            if used > self.limits.disk_bytes or entries > self.limits.disk_files:
                self.exceeded = (f"the notebook filled its folder past the limit ({used:,} bytes in {entries:,} "
                                 f"files and folders; at most {self.limits.disk_bytes:,} bytes and "
                                 f"{self.limits.disk_files:,} entries) and was stopped")
                self._kill_kernel()
                return

    def _kill_kernel(self) -> None:
        """Kill the kernel's process (in a sandbox: bubblewrap, whose sandbox dies with it)."""
        client = self.engine.last_client
        process = getattr(getattr(getattr(client, "km", None), "provisioner", None), "process", None)
        if process is not None:
            try:
                process.kill()
            except OSError:
                pass

    def stop(self) -> None:
        self._done.set()
        if self.is_alive():
            self.join()


def disk_usage(folders: Any, max_entries: int) -> tuple[int, int]:
    """(bytes on disk, entries) below ``folders``, no symlink followed; counting stops past ``max_entries``."""
    used = entries = 0
    stack = [str(folder) for folder in folders]
    while stack and entries <= max_entries:
        try:
            with os.scandir(stack.pop()) as found:
                for entry in found:
                    entries += 1
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    used += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return used, entries


def _keep_tail(log: Path, keep: int) -> None:
    """Cut a kernel's log to its last ``keep`` bytes (a kernel may write gigabytes to its stderr)."""
    try:
        size = log.stat().st_size
        if size <= keep:
            return
        with open(log, "rb") as file:
            file.seek(size - keep)
            tail = file.read()
        log.write_bytes(f"[autograder: the first {size - keep:,} bytes of this log were dropped]\n".encode() + tail)
    except OSError:
        pass


def _first_line(text: str) -> str:
    """An error's first line and, where it has more, its last (where a message says what to do)."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[0][:300] if len(lines) == 1 else f"{lines[0][:200]} … {lines[-1][:300]}"


# What a kernel's log holds besides its last words: ipykernel's banner, jupyter_client's warnings.
_LOG_NOISE = re.compile(r"^(NOTE: When using the `ipython kernel`|To exit, you will have|\"quit\" from a client|"
                        r"To read more about this|To connect another client|    --existing|\[IPKernelApp\]|"
                        r"\s*warnings\.warn|.*(Warning|WARNING):|Fontconfig error)")


def _last_words(log: Path) -> str:
    """The last line a dead kernel wrote that is not start-up chatter."""
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines()
                 if line.strip() and not _LOG_NOISE.match(line) and "ipython/ipython/issues" not in line]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def _limit_hit(ename: str, text: str, limits: Limits, sandbox: Optional[Sandbox]) -> str:
    """Which sandbox limit an error points at, in words, or ""."""
    if sandbox is None:
        return ""
    if ename == "MemoryError" or re.search(r"MemoryError|bad_alloc|Cannot allocate memory|out of memory", text):
        return f" (it ran out of its {limits.memory_bytes / 1e9:g} GB memory limit)"
    if "Resource temporarily unavailable" in text or ename == "BlockingIOError":
        return f" (it hit its limit of {limits.processes} processes)"
    if re.search(r"File too large|SIGXFSZ", text):
        return f" (it wrote a file beyond its {limits.file_bytes / 1e9:g} GB limit)"
    return ""


def _cells(executed: Path) -> list[Any]:
    try:
        return json.loads(executed.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return []


def cell_label(executed: Path, index: Optional[int], count: Optional[int] = None) -> str:
    """A cell as a student finds it: by its first line of code (cell numbers differ between the student's
    Jupyter, which counts runs, and the graded notebook), with its number on the feedback page."""
    cells = _cells(executed)
    source = cells[index].get("source", "") if index is not None and 0 <= index < len(cells) else ""
    source = "".join(source) if isinstance(source, list) else source
    lines = [line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    count = count or (cells[index].get("execution_count") if source else None)
    shown = f" (In [{count}] on the feedback page)" if count else ""
    if not lines:
        return f"cell {count or index}"
    first = lines[0] if len(lines[0]) <= 60 else lines[0][:59] + "…"
    return f"the cell starting `{first}`{shown}"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line \d+")  # how IPython names a notebook cell in a traceback


def traceback_counts(traceback: Sequence[str]) -> list[int]:
    """The In [N] of each notebook cell a traceback passes through, outermost first."""
    return [int(n) for n in _CELL_FRAME.findall(_ANSI.sub("", "\n".join(traceback or [])))]


def _index_of(executed: Path, count: Optional[int]) -> Optional[int]:
    """The index of the code cell that ran as In [count] (papermill's own cells shift its error's index)."""
    return next((i for i, cell in enumerate(_cells(executed))
                 if count is not None and cell.get("cell_type") == "code" and cell.get("execution_count") == count),
                None)


def raising_cells(executed: Path, running: Optional[int], traceback: Sequence[str]) -> tuple[str, str]:
    """(the code cell that raised: the traceback's innermost notebook cell, the cell that called it or "")."""
    counts = traceback_counts(traceback)
    innermost = counts[-1] if counts else running
    raised = cell_label(executed, _index_of(executed, innermost), innermost)
    if running is None or innermost == running:
        return raised, ""
    return raised, cell_label(executed, _index_of(executed, running), running)


def _where(executed: Path) -> str:
    """' (in the cell starting ...)' for the cell that was running when execution stopped."""
    for index, cell in enumerate(_cells(executed)):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            return f" (in {cell_label(executed, index)})"
    return ""


def _cell_seconds(executed: Path) -> float:
    total = 0.0
    for cell in _cells(executed):
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if isinstance(duration, (int, float)):
            total += duration
    return total
