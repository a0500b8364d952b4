"""How pi0_ros spins its nodes: every node on a SingleThreadedExecutor of its own, in a thread of its own
when several nodes share a process (the in-process runner, demo collection, tests).

Why not rclpy's MultiThreadedExecutor: measured with rclpy 9.1.2 (Kilted) on a 2-core machine, the
simulated UR5e driver and the chunk executor on one MultiThreadedExecutor let the 20 Hz control tick
run at about 5 Hz (p99 interval deviation near 1 s; its Python wait loop polls futures and rebuilds
the wait set of every entity on each wake-up), and one per node was worse. On one
SingleThreadedExecutor per node the tick holds 20 Hz with a p99 deviation of 2.5 ms. The price is
that a node's callbacks run one at a time, so no callback may block: waiting belongs in worker
threads (inference) or coroutines (the run_instruction action).
"""

from __future__ import annotations

import threading

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode

from pi0_common.lifecycle import state_of


class NoAnswerError(RuntimeError):
    """A service or action did not answer in time."""


def wait_for_future(future, timeout: float, what: str):
    """The result of an rclpy future that another thread completes (its node spins on a NodeSpinner).

    Raises:
        NoAnswerError: naming ``what``, when the future is not done after ``timeout`` seconds.
    """
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    if not done.wait(timeout):
        raise NoAnswerError(f'{what} did not answer within {timeout:g} s')
    return future.result()


def call_service(client, request, timeout: float = 10.0):
    """Call a service from a thread that does not spin the client's node, and return the response."""
    if not client.wait_for_service(timeout_sec=timeout):
        raise NoAnswerError(f'service {client.srv_name} is not available')
    return wait_for_future(client.call_async(request), timeout, f'service {client.srv_name}')


def sleep_future(node, seconds: float):
    """A future that the node's own executor completes after ``seconds``: await it in a coroutine callback
    (an action's execute callback) to wait without blocking the node's single-threaded executor."""
    from rclpy.task import Future
    future = Future()
    timer = None

    def fire():
        timer.cancel()
        node.destroy_timer(timer)
        if not future.done():
            future.set_result(None)
    timer = node.create_timer(seconds, fire)
    return future


class NodeSpinner:
    """Spins each added node on its own SingleThreadedExecutor in a daemon thread."""

    def __init__(self, context: rclpy.Context):
        self.context = context
        self._stopping = False
        self._spinning: list[tuple[object, SingleThreadedExecutor, threading.Thread]] = []

    def add(self, node) -> None:
        executor = SingleThreadedExecutor(context=self.context)
        executor.add_node(node)
        thread = threading.Thread(target=self._spin, args=(executor,), name=f'spin_{node.get_name()}', daemon=True)
        thread.start()
        self._spinning.append((node, executor, thread))

    def _spin(self, executor: SingleThreadedExecutor) -> None:
        try:
            executor.spin()
        except (ExternalShutdownException, KeyboardInterrupt):
            pass
        except Exception:
            # An error while the context lives and nobody stops the executor is a real one; one raised
            # by an executor being shut down under a callback in flight is part of stopping.
            if self.context.ok() and not self._stopping:
                raise

    def shutdown(self, destroy: bool = True, timeout: float = 5.0) -> None:
        """Stop every executor, then (optionally) destroy the nodes, newest first."""
        self._stopping = True
        for node, executor, _ in self._spinning:
            executor.remove_node(node)
            executor.shutdown(timeout_sec=1.0)
        for _, _, thread in self._spinning:
            thread.join(timeout=timeout)
        if destroy:
            for node, _, _ in reversed(self._spinning):
                node.destroy_node()
        self._spinning.clear()


def run_node(node_cls, args=None) -> None:
    """main() of every pi0_ros node executable: init, spin until SIGINT or SIGTERM, clean shutdown.

    The signals only set a flag (pi0_common.stop_signals; rclpy's own handler is not installed): the
    executor finishes the callback it is in, the node is destroyed while the context is still valid (a
    node's destroy_node stops its worker threads, which may still publish), and only then is rclpy shut down. So a stop
    never races a callback against a dead context, a second signal during clean-up changes nothing,
    and the process exits 0. A node that cannot start because of its configuration (a ValueError such
    as a bad parameter, an unknown embodiment, a missing checkpoint) logs one line saying why and
    exits 1; the traceback is logged at debug level.

    A lifecycle node (pi0_common.lifecycle) spins until stopped or finalized; a stop shuts it down from
    the state it is in (an active executor or driver holds first). Finalized after a failed configure
    (its one line already logged) is exit code 1, as for a bad parameter; otherwise 0.
    """
    import os
    import sys
    import traceback

    from rclpy.signals import SignalHandlerOptions

    from pi0_common.stop_signals import catch_stop_signals, ignore_late_signals

    stop = catch_stop_signals()          # already caught by the entry point; also when run from Python
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    executor = SingleThreadedExecutor()
    node, code, managed = None, 0, False
    try:
        node = node_cls()
        managed = isinstance(node, LifecycleNode)
        executor.add_node(node)
        while not stop.is_set() and not (managed and state_of(node) == 'finalized'):
            executor.spin_once(timeout_sec=0.1)
        if managed and state_of(node) == 'finalized' and getattr(node, 'configure_error', ''):
            code = 1
    except ValueError as e:
        logger = rclpy.logging.get_logger(os.path.basename(sys.argv[0]) or node_cls.__name__)
        logger.fatal(f'cannot start: {e}')
        logger.debug(traceback.format_exc())
        code = 1
    finally:
        if node is not None:
            executor.remove_node(node)
            if managed and state_of(node) in ('unconfigured', 'inactive', 'active'):
                node.trigger_shutdown()
            node.destroy_node()
        executor.shutdown(timeout_sec=1.0)
        rclpy.try_shutdown()
        ignore_late_signals()
    if code:
        sys.exit(code)
