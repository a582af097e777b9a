"""Run student code in an operating-system sandbox: bubblewrap, under resource limits.

Student code is the notebook's kernel and every process that calls a
student's lifted functions. Each runs inside ``bwrap`` (bubblewrap, the
sandbox Flatpak uses) with:

- the system, the Python installation, the virtual environment, the
  ``coursework`` package and the training-only copy of the course data
  (:mod:`autograder.student_data`) read-only; never a test split;
- its staged folder and OUTPUT_DIR (and nothing else of the grader's) read-write;
- a private ``/tmp`` and a fresh, empty home, both size-capped;
- no network (its own network namespace: papermill talks to the kernel over
  Unix sockets in a folder bound into the sandbox);
- its own PID namespace: when the sandbox ends, every process it started ends;
- limits on memory (RLIMIT_DATA), processes (RLIMIT_NPROC) and file size
  (RLIMIT_FSIZE), from the rubric's limits for the profile. A grader running
  as root starts bwrap as root (so that it can bind what only root may read)
  and the sandbox's first command drops to an unprivileged user, for whom the
  process limit holds; any other user runs bwrap in a user namespace.

The grader's checks, rubrics, hidden cases, reports, caches and other
submissions are simply not mounted. On a GPU machine the NVIDIA device nodes are
bound in.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import coursework
from autograder.errors import AutograderError
from autograder.rubric import Limits, rubric_dir
from coursework.environment import ENV_DIR, ENV_OFFLINE

# The unprivileged user a root grader runs student code as. RLIMIT_NPROC counts every process of a user:
# graders running side by side (parallel test workers, batch jobs) each take their own.
DEFAULT_SANDBOX_UID = 61000  # $AUTOGRADER_SANDBOX_UID moves it (read at each call: tests set it per worker)
MAX_SLOTS = 1000  # job slot N runs as the base uid + N: parallel jobs never share RLIMIT_NPROC's count
SANDBOX_MODES = ("require", "prefer", "off")  # refuse to run without one; warn and go on; never use one
SLOT_DIR = Path(tempfile.gettempdir()) / "autograder-slots"  # one lock file per job slot, machine-wide
HOME = Path("/home/student")  # the sandbox's fresh home (a tmpfs)
MATPLOTLIB_DIR = ".config/matplotlib"  # $MPLCONFIGDIR in it
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt/conda")
ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "ca-certificates", "localtime", "timezone",
    "nsswitch.conf", "hosts", "fonts", "mime.types", "matplotlibrc", "nvidia",
)

# Variables a notebook's kernel may see; everything else (tokens, keys) is dropped.
ENV_ALLOW = {
    "PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH",
    "KERAS_BACKEND", "KERAS_HOME", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "CUDA_VISIBLE_DEVICES",
    "LD_LIBRARY_PATH", "XLA_FLAGS", "OMP_NUM_THREADS", "MPLBACKEND", ENV_DIR, ENV_OFFLINE,
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "JUPYTER_PATH", "JUPYTER_RUNTIME_DIR", "JUPYTER_CONFIG_DIR",
    "XDG_CACHE_HOME",
}
ENV_ALLOW_PREFIXES = ("NVIDIA_", "CUDA_", "XLA_PYTHON_CLIENT_")

_held: Optional[tuple[int, int]] = None  # (slot, file descriptor) this process holds


class SandboxUnavailable(AutograderError):
    """bubblewrap is missing or cannot create namespaces here."""


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> Optional[str]:
    """Why no sandbox can start on this machine, or None when bubblewrap works."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return ("bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` on Debian or Ubuntu, "
                "or `make setup` as root")
    try:
        probe = subprocess.run([bwrap, "--ro-bind", "/", "/", *_namespaces(), "--", *_drop_privileges(), "true"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not start: {exc}"
    if probe.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {probe.stderr.strip()[:300]}"
    return None


def _namespaces() -> list[str]:
    """Every namespace but the user's for root (it keeps the right to change user once inside), all for others."""
    if os.geteuid() != 0:
        return ["--unshare-all"]
    return ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]


def _drop_privileges(slot: int = 0) -> list[str]:
    """Inside a sandbox started by root, become an unprivileged user (root ignores RLIMIT_NPROC)."""
    uid = sandbox_uid(slot)
    if uid is None:
        return []
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all"]


def sandbox_uid(slot: int = 0) -> Optional[int]:
    """The user id student code of job slot ``slot`` runs as, when it differs from the grader's."""
    if not 0 <= slot < MAX_SLOTS:
        raise ValueError(f"job slot {slot} is outside 0..{MAX_SLOTS - 1}")
    base = int(os.environ.get("AUTOGRADER_SANDBOX_UID", DEFAULT_SANDBOX_UID))
    return base + slot if os.geteuid() == 0 else None


def sweep(slot: int) -> None:
    """Kill every process left running as a job slot's sandbox user (when the grader runs as root)."""
    uid = sandbox_uid(slot)
    if uid is not None:
        subprocess.run(["pkill", "-KILL", "-U", str(uid)], capture_output=True)


def claim_slot() -> int:
    """This process's job slot: the lowest one no other process holds (kept until the process ends)."""
    global _held
    if _held is not None:
        return _held[0]
    SLOT_DIR.mkdir(mode=0o700, exist_ok=True)
    for slot in range(MAX_SLOTS):
        fd = os.open(SLOT_DIR / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _held = (slot, fd)
        return slot
    raise RuntimeError(f"all {MAX_SLOTS} job slots are taken")


def hand_over(*paths: Path, slot: int) -> None:
    """Make ``paths`` (recursively) writable by the sandbox's user of job slot ``slot``."""
    uid = sandbox_uid(slot)
    if uid is None:
        return
    for top in paths:
        for path in [top, *top.rglob("*")] if top.is_dir() else [top]:
            if not path.is_symlink():
                os.chown(path, uid, uid)


def kernel_environment() -> dict[str, str]:
    """The environment of a kernel or harness process: the allow-list above, nothing else."""
    env = {k: v for k, v in os.environ.items() if k in ENV_ALLOW or k.startswith(ENV_ALLOW_PREFIXES)}
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _processes_of_this_user() -> int:
    """Processes already running as this user: RLIMIT_NPROC counts them too."""
    uid = os.geteuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:
                pass
    return count


@dataclass(frozen=True)
class Sandbox:
    """Where student code may read and write, and how much it may use."""

    limits: Limits
    writable: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()  # extra read-only folders at their own path (the course data)
    home_readable: dict[str, Path] = field(default_factory=dict)  # read-only folders inside the fresh home
    slot: int = 0  # the job slot: which unprivileged user a root grader runs it as
    data_dir: Optional[Path] = None  # the course data the kernel is given ($CNN_COURSE_DATA): training splits only
    overlays: dict[Path, Path] = field(default_factory=dict)  # file bound over a file of the environment: its source

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` adjusted to the sandbox's home and data."""
        env = {k: v for k, v in env.items() if k != ENV_DIR}
        if self.data_dir is not None:
            env[ENV_DIR] = str(self.data_dir)
        return {**env, "HOME": str(HOME), "XDG_CACHE_HOME": str(HOME / ".cache"), "KERAS_HOME": str(HOME / ".keras"),
                "MPLCONFIGDIR": str(HOME / MATPLOTLIB_DIR), "IPYTHONDIR": str(HOME / ".ipython"),
                "JUPYTER_RUNTIME_DIR": str(HOME / ".local" / "share" / "jupyter" / "runtime"),
                "USER": "student"}

    def command(self, argv: Sequence[str], cwd: Path) -> list[str]:
        """``argv`` wrapped so that it runs inside the sandbox, in ``cwd``."""
        problem = bwrap_problem()
        if problem:
            raise SandboxUnavailable(problem)
        limits = self.limits
        processes = limits.processes + (0 if sandbox_uid(self.slot) is not None else _processes_of_this_user())
        command = [
            "prlimit", f"--data={limits.memory_bytes}", f"--nproc={processes}", f"--fsize={limits.file_bytes}", "--",
            "bwrap", *_namespaces(), "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm",
        ]
        for directory in SYSTEM_DIRS:
            path = Path(directory)
            if path.is_symlink():
                command += ["--symlink", os.readlink(path), directory]
            elif path.is_dir():
                command += ["--ro-bind", directory, directory]
        for name in ETC_FILES:
            command += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        command += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
        command += _parents([*self._python_paths(), *self.readable, HOME])
        for path in [*self._python_paths(), *self.readable]:
            command += ["--ro-bind", str(path), str(path)]
        command += self._grader_hidden()
        for target, source in self.overlays.items():
            command += ["--ro-bind", str(source), str(target)]
        command += ["--perms", "0777", "--size", str(limits.tmp_bytes), "--tmpfs", str(HOME)]
        command += _parents([HOME / relative for relative in self.home_readable] + list(self.writable))
        for relative, path in self.home_readable.items():
            command += ["--ro-bind", str(path), str(HOME / relative)]
        for path in self.writable:
            command += ["--bind", str(path), str(path)]
        for device in sorted(Path("/dev").glob("nvidia*")):  # a GPU runner's devices; its driver is under /usr
            command += ["--dev-bind", str(device), str(device)]
        if any(Path("/dev").glob("nvidia*")):
            command += ["--ro-bind-try", "/sys", "/sys"]
        # jupyter_client's parent pid means nothing in a PID namespace (ipykernel would exit at once);
        # --die-with-parent ties the sandbox to the grader instead.
        command += ["--unsetenv", "JPY_PARENT_PID", "--chdir", str(cwd), "--", *_drop_privileges(self.slot), *argv]
        return command

    def _grader_hidden(self) -> list[str]:
        """An empty folder over the grader's package where it sits in the bound environment (an installed wheel),
        and over the rubric folder in use (``--rubric-dir``) where it sits in a bound folder: the rubrics, hidden
        cases and checks stay out of the sandbox."""
        bound = [*map(Path, SYSTEM_DIRS), *self._python_paths(), *self.readable]
        hidden = []
        for folder in (Path(__file__).resolve().parent, rubric_dir()):
            if any(folder.is_relative_to(path) for path in bound) and not any(folder.is_relative_to(h) for h in hidden):
                hidden.append(folder)
        return [arg for folder in hidden for arg in ("--perms", "0000", "--tmpfs", str(folder))]

    def _python_paths(self) -> list[Path]:
        """The interpreter, the virtual environment and the student API (not the grader)."""
        package = Path(coursework.__file__).resolve().parent
        paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), package}
        # site-packages a .pth adds from outside the environment (an environment layered on a shared one)
        paths |= {Path(p).resolve() for p in sys.path if Path(p).name in ("site-packages", "dist-packages")
                  and Path(p).is_dir()}
        return sorted(paths)


def _parents(paths: Sequence[Path]) -> list[str]:
    """bwrap arguments that create the folders above ``paths`` open to all (bwrap would make them 0700)."""
    parents = sorted({a for path in paths for a in path.parents if a != Path("/")}, key=lambda a: len(a.parts))
    return [arg for parent in parents
            for arg in ("--perms", "0777" if HOME in parent.parents else "0755", "--dir", str(parent))]


@functools.lru_cache(maxsize=None)
def _font_list() -> dict[str, Path]:
    """The grader's matplotlib font list, to bind read-only where the sandbox's matplotlib looks for it: a kernel
    or harness (Keras imports matplotlib) in a fresh home would otherwise scan every font again (0.2 s)."""
    try:
        import matplotlib
        from matplotlib import font_manager  # loads the grader's list, or builds it once
    except ImportError:
        return {}
    name = f"fontlist-v{font_manager.FontManager.__version__}.json"
    path = Path(matplotlib.get_cachedir()) / name
    return {f"{MATPLOTLIB_DIR}/{name}": path.resolve()} if path.is_file() else {}


def sandbox_for(limits: Limits, writable: Sequence[Path], data_view: Optional[Path], slot: int) -> Sandbox:
    """The sandbox of one notebook: its folders writable, ``data_view`` (the training-only course data of
    :func:`autograder.student_data.student_view`), VGG16's cached weights and the grader's font list read-only.
    No other data, and none of the grader's caches: those hold test splits. ``slot``: a job slot this process
    holds (:func:`claim_slot`)."""
    from autograder.student_data import overlays
    from coursework import pretrained

    home = {".keras/models": pretrained.keras_models_dir().resolve()} if pretrained.keras_models_dir().is_dir() else {}
    home.update(_font_list())
    view = Path(data_view).resolve() if data_view is not None else None
    return Sandbox(limits, tuple(Path(p).resolve() for p in writable), (view,) if view else (), home, slot,
                   data_dir=view, overlays=overlays(view) if view else {})
