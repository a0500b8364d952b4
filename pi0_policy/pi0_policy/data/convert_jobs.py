"""Episodes converted in parallel worker processes, added to the dataset in bag order as they finish.

Each bag is one job: read and align it (:mod:`.episode`), then stage it (:mod:`.stage`) into
``OUT_DIR/.pi0_stages/<bag name>/``. A job writes ``report.json`` last; a stage holding it is finished and
is not converted again when an interrupted conversion resumes. The parent adds finished episodes to the
writer in bag order while later ones are still converting, and shows one progress bar in frames (with
frames per second) fed by the workers through a queue.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from pi0_common.embodiment import load_embodiment

from .bag_reader import BagError, read_streams
from .episode import align_episode
from .mapped_bag import read_mapped
from .mapping import Mapping
from .stage import EpisodeError, StageSpec, stage_episode

STAGES_DIR = ".pi0_stages"
REPORT_FILE = "report.json"
_progress: mp.Queue | None = None  # the worker's end of the progress queue


@dataclass(frozen=True)
class Job:
    """One bag to convert (picklable)."""

    bag: str
    stage: str  # the stage folder
    embodiment: str
    fps: int
    cameras: tuple[str, ...]
    namespace: str | None
    spec: StageSpec
    mapping: Mapping | None = None  # a bag the suite did not record: its topics


def stage_folder(out_dir: Path, bag: Path) -> Path:
    """Where a bag's episodes are staged (one sub-folder each)."""
    return out_dir / STAGES_DIR / bag.name


def finished_report(stage: str | Path) -> dict | None:
    """The report of a finished job, None if the job has not finished."""
    path = Path(stage) / REPORT_FILE
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except json.JSONDecodeError:
        return None


def run_job(job: Job) -> dict:
    """Convert one bag into its stage; returns the report (also written to the stage as ``report.json``).

    The report says whether the bag could be read (``ok``, else ``error``) and, per episode it holds (one
    for the suite's bags; as the mapping says otherwise), ``ok`` with its stage folder, frames, task,
    warnings and source, or the reason it was left out.
    """
    report = {"bag": job.bag, "ok": False, "episodes": []}
    stage = Path(job.stage)
    shutil.rmtree(stage, ignore_errors=True)
    emb = load_embodiment(job.embodiment)
    try:
        if job.mapping is None:
            streams, summary = [read_streams(job.bag, emb, job.cameras, job.namespace)], {}
        else:
            streams, summary = read_mapped(job.bag, emb, job.mapping, job.cameras)
    except BagError as e:
        report["error"] = str(e)
        return report
    report["ok"] = True
    for k, s in enumerate(streams):
        part = {"bag": job.bag if job.mapping is None else f"{job.bag}#{k}", "ok": False}
        folder = stage / f"{k:04d}"
        try:
            episode = align_episode(s, job.fps)
            stage_episode(job.spec, episode.to_episode_data(), folder, _report_rows)
        except (BagError, EpisodeError) as e:
            shutil.rmtree(folder, ignore_errors=True)
            part["error"] = str(e)
        else:
            part.update(ok=True, stage=str(folder), frames=episode.length, task=s.task, warnings=episode.warnings,
                        source={"source_episode_index": s.source_episode_index, "success": s.success,
                                "start_ns": s.start_ns, "stop_ns": s.stop_ns, "namespace": s.namespace,
                                "dropped_leading_frames": episode.dropped,
                                "camera_topics": {k: v.topic for k, v in s.images.items()}, **summary})  # fmt: skip
        report["episodes"].append(part)
    stage.mkdir(parents=True, exist_ok=True)
    (stage / REPORT_FILE).write_text(json.dumps(report))
    return report


def _report_rows(count: int) -> None:
    if _progress is not None:
        _progress.put(count)


def _init_worker(progress: mp.Queue) -> None:
    global _progress
    _progress = progress


def run_jobs(jobs: list[Job], add: Callable[[Job, dict], None], workers: int, progress: bool) -> None:
    """Run the jobs (those already finished are not run again) and call ``add(job, report)`` for each in
    job order as soon as it and every job before it are done."""
    reports: dict[int, dict] = {}
    todo = []
    for i, job in enumerate(jobs):
        done = finished_report(job.stage)
        if done is not None:
            reports[i] = done
        else:
            shutil.rmtree(job.stage, ignore_errors=True)  # an unfinished stage from an interrupted run
            todo.append(i)
    resumed = len(reports)
    bar = tqdm(total=None, unit=" frames", disable=not progress, smoothing=0.1,
               desc=f"converting {len(jobs)} episode(s)" + (f", {resumed} resumed" if resumed else ""))
    next_add = 0

    def add_ready() -> None:
        nonlocal next_add
        while next_add in reports:
            add(jobs[next_add], reports[next_add])
            next_add += 1
        bar.set_postfix_str(f"{next_add}/{len(jobs)} episodes", refresh=False)

    add_ready()
    try:
        if workers <= 1 or len(todo) <= 1:  # in this process
            _init_worker(_BarFeed(bar))
            try:
                for i in todo:
                    reports[i] = run_job(jobs[i])
                    add_ready()
            finally:
                _init_worker(None)
            return
        ctx = mp.get_context("spawn")  # no forked copies of the parent's threads and open files
        progress_queue = ctx.Queue()
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(progress_queue,)) as pool:  # fmt: skip
            futures: dict[Future, int] = {pool.submit(run_job, jobs[i]): i for i in todo}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress_queue, bar)
                for future in done:
                    reports[futures[future]] = future.result()
                add_ready()
            _drain(progress_queue, bar, wait_s=0.2)
    finally:
        bar.close()


class _BarFeed:
    """The progress queue's ``put`` when the jobs run in this process."""

    def __init__(self, bar: tqdm):
        self.bar = bar

    def put(self, count: int) -> None:
        self.bar.update(count)


def _drain(progress_queue: mp.Queue, bar: tqdm, wait_s: float = 0.0) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            bar.update(progress_queue.get(timeout=max(0.0, deadline - time.monotonic())) if wait_s else
                       progress_queue.get_nowait())  # fmt: skip
        except queue.Empty:
            return


def default_workers(bags: int) -> int:
    """One worker per core, at most one per bag."""
    return max(1, min(os.cpu_count() or 1, bags))
