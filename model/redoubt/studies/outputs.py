"""Output directories: one writer at a time (`DirectoryLock`), a directory that must be new or empty unless
replaced (--force) or resumed, and everything taken back if the work is interrupted (`OutputDir`); the
errors a user sees as one line (`UserError`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .parts import write_atomic_text


# ---------------------------------------------------------------- output directories ---------------------
class DirectoryLock:
    """One writer per output directory: an exclusive flock on `<dir>/.lock`, released by the OS when the
    process ends in any way (SIGKILL included), so a lock is never stale. A second writer is refused at
    once with the holder's PID."""

    NAME = ".lock"

    def __init__(self, directory: Path):
        self.path = Path(directory) / self.NAME
        self.fd: int | None = None

    def acquire(self) -> DirectoryLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise InUse(self.path.parent, holder) from None
            try:  # the file may have been removed and re-created by the last holder: lock the live one
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def release(self, remove: bool = False) -> None:
        if self.fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class UserError(Exception):
    """Something the user asked for that cannot be done as asked: one line, exit code 2, nothing written."""


class OutputError(UserError):
    """An output directory that cannot be used."""


class InUse(OutputError):
    """Another redoubt process writes into this directory."""

    def __init__(self, directory: Path, pid: str):
        self.directory, self.pid = directory, pid
        super().__init__(f"{directory} is in use by another redoubt process (PID {pid}); wait for it to "
                         "finish, or choose another output directory")


# What each command writes into its output directory: --force replaces these and nothing else.
OUTPUTS = {
    "run": ("outcome.json", "daily.csv"),
    "compare": ("runs.parquet", "summary.csv", "effects.csv", "outcomes.png", "falls.png", "stocks.png", "forces.png",
                "report.md", ".parts", "INCOMPLETE.txt",
                "survival.png"),  # the headline figure's name before 0.2
    "sweep": ("manifest.json", "design.parquet", "outcomes", "series"),
    "calibrate": ("posterior.toml", "parameters.csv", "hindcast.csv", "recovery.csv", "calibration.md", "test.csv",
                  "test.md"),  # and a sweep per episode, each its own
}
MARK = ".redoubt"  # names the command that made a directory: --force only ever touches such directories


class OutputDir:
    """An output directory owned by this process while it writes (see `DirectoryLock`).

    `claim()` creates it or checks it under the lock: a directory must be new or empty, unless `force`
    (it must then be one redoubt made for the same command: only that command's files are replaced, a
    user's other files stay) or `resume` (a directory of the same command, kept as it is, e.g. a sweep).
    `abort()` takes back everything this process wrote, so "nothing written" is true after Ctrl-C."""

    def __init__(self, path: Path, kind: str):
        self.path, self.kind = Path(path), kind
        self.lock = DirectoryLock(self.path)
        self.created = False

    def _ours(self) -> bool:
        mark = self.path / MARK
        if mark.is_file():
            return mark.read_text().strip() == self.kind
        if self.kind == "calibrate":  # a calibration made before marks: episode sweeps (and their results) only
            dirs = [p for p in self.path.iterdir() if p.is_dir()]
            files = {p.name for p in self.path.iterdir() if p.is_file()} - {DirectoryLock.NAME}
            sweeps_only = all((p / "manifest.json").is_file() for p in dirs)
            return bool(dirs) and sweeps_only and files <= set(OUTPUTS[self.kind])
        return self.kind == "sweep" and (self.path / "manifest.json").is_file()  # sweeps made before marks

    TEMP = re.compile(r"^\..+\.\d+\.tmp(\.png)?$")  # a temp file of a writer that died mid-write

    def contents(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir()
                      if p.name not in (DirectoryLock.NAME, MARK) and not self.TEMP.match(p.name))

    def claim(self, force: bool = False, resume: bool = False) -> OutputDir:
        path = self.path
        if force and path.resolve() in (Path.cwd().resolve(), Path.home().resolve(), Path("/")):
            raise OutputError(f"--out {path}: --force is refused for the current, home or root directory")
        if path.exists() and not path.is_dir():
            raise OutputError(f"--out {path}: exists and is not a directory")
        self.created = not path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
            self.lock.acquire()
        except InUse:
            raise
        except OSError as exc:
            raise OutputError(f"--out {path}: cannot write there ({exc.strerror or exc})") from None
        try:
            existing = self.contents()
            if existing and not (resume and self._ours()):
                if not force:
                    raise OutputError(f"--out {path}: directory exists and is not empty (use --force to "
                                      "replace redoubt's outputs in it, or choose another directory)")
                if not self._ours():
                    raise OutputError(f"--out {path}: --force replaces only an output directory of "
                                      f"'redoubt {self.kind}', and this one is not")
                self.remove_outputs()
            self.remove_temps()  # we hold the lock: any temp file here is a dead writer's
            if not (path / MARK).exists():
                write_atomic_text(self.kind + "\n", path / MARK)
        except BaseException:  # refused: touch nothing that was there
            if self.created:
                import shutil

                shutil.rmtree(path, ignore_errors=True)
            self.lock.release(remove=True)
            raise
        return self

    def remove_outputs(self) -> None:
        """This command's files (and redoubt's hidden temp and aside files) in the directory."""
        import shutil

        for name in OUTPUTS[self.kind]:
            p = self.path / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        self.remove_temps()

    def remove_temps(self) -> None:
        for p in self.path.rglob(".*.tmp*"):
            if self.TEMP.match(p.name):
                p.unlink(missing_ok=True)

    def abort(self) -> None:
        """Take back what this process wrote: the whole directory if it made it, else its outputs."""
        import shutil

        if self.created:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self.remove_outputs()
            (self.path / MARK).unlink(missing_ok=True)
        self.lock.release(remove=True)

    def close(self) -> None:
        self.lock.release(remove=True)
