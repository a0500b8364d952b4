"""The task scene: a table with a red and a blue block, placed at random (seeded) reachable spots.

Blocks are static props: nothing here simulates grasping. What a scripted expert and a success
check need is where the blocks are and whether a tool tip has reached one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from pi0_sim.spec import BlockSpec, TableSpec

BLOCK_COLORS = {'red': (200, 30, 30), 'blue': (30, 60, 200)}   # RGB of a lit top face


class Scene:
    """Table and blocks in the world frame.

    Attributes:
        table: the table (top surface at ``table.height``).
        block_size: edge length of the cubes (m).
        blocks: colour -> (3,) world position of the block's centre.
        block_yaw: colour -> rotation of the block about the vertical (rad).
    """

    def __init__(self, table: TableSpec, blocks: BlockSpec, tool_position: Callable[[str], np.ndarray]):
        self.table = table
        self.block_spec = blocks
        self.block_size = blocks.size
        self._tool_position = tool_position
        self.blocks: dict[str, np.ndarray] = {}
        self.block_yaw: dict[str, float] = {}

    @property
    def colors(self) -> tuple[str, ...]:
        return tuple(BLOCK_COLORS)

    def sample_layout(self, rng: np.random.Generator) -> None:
        """Place every block uniformly in the configured region, at least min_separation apart, or, when
        the scene has slots, in distinct random slots (of its colour, if slots have colours), each jittered."""
        spec = self.block_spec
        if spec.slots:
            if spec.slot_colors:                # each colour in one of its own slots
                chosen = [rng.choice([i for i, c in enumerate(spec.slot_colors) if c == color])
                          for color in BLOCK_COLORS]
            else:
                chosen = rng.choice(len(spec.slots), size=len(BLOCK_COLORS), replace=False)
            xy = np.asarray(spec.slots)[chosen] + rng.uniform(-spec.jitter, spec.jitter, (len(BLOCK_COLORS), 2))
            yaws = rng.uniform(0.0, math.pi / 2, len(BLOCK_COLORS))
            for color, p, yaw in zip(BLOCK_COLORS, xy, yaws, strict=True):
                self.place_block(color, p, float(yaw))
            return
        for _ in range(1000):
            xy = np.column_stack([rng.uniform(*spec.x, len(BLOCK_COLORS)), rng.uniform(*spec.y, len(BLOCK_COLORS))])
            gaps = [np.linalg.norm(xy[i] - xy[j]) for i in range(len(xy)) for j in range(i)]
            if min(gaps) >= spec.min_separation:
                break
        else:   # parse_sim checked that the region can hold them; this would be a bug
            raise RuntimeError('could not place the blocks apart in 1000 tries')
        yaws = rng.uniform(0.0, math.pi / 2, len(BLOCK_COLORS))
        for color, p, yaw in zip(BLOCK_COLORS, xy, yaws, strict=True):
            self.place_block(color, p, float(yaw))

    def place_block(self, color: str, xy, yaw: float = 0.0) -> None:
        """Put a block on the table top at a world (x, y) (scripted scenes and tests)."""
        self._check_color(color)
        x, y = (float(v) for v in xy)
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(yaw)):
            raise ValueError(f'block position must be finite, got {xy}, yaw {yaw}')
        self.blocks[color] = np.array([x, y, self.table.height + self.block_size / 2])
        self.block_yaw[color] = float(yaw)

    def block_top(self, color: str) -> np.ndarray:
        """World position of the centre of a block's top face."""
        self._check_color(color)
        return self.blocks[color] + np.array([0.0, 0.0, self.block_size / 2])

    def offset(self, arm_name: str, color: str) -> np.ndarray:
        """Tool tip minus block top centre (world frame, m)."""
        return self._tool_position(arm_name) - self.block_top(color)

    def horizontal_distance(self, arm_name: str, color: str) -> float:
        return float(np.linalg.norm(self.offset(arm_name, color)[:2]))

    def distance(self, arm_name: str, color: str) -> float:
        """3-D distance from the tool tip to the centre of the block's top face (m)."""
        return float(np.linalg.norm(self.offset(arm_name, color)))

    def distances(self, arm_name: str) -> dict[str, float]:
        return {c: self.distance(arm_name, c) for c in self.blocks}

    def reached(self, arm_name: str, color: str, tolerance: float = 0.05, above: float = 0.04) -> bool:
        """Whether the tool tip is over the block: within ``tolerance`` horizontally of its centre, and
        between half a block below its top (fingers around it) and ``above`` metres above it."""
        d = self.offset(arm_name, color)
        return bool(np.linalg.norm(d[:2]) <= tolerance and -self.block_size / 2 <= d[2] <= above)

    def _check_color(self, color: str) -> None:
        if color not in BLOCK_COLORS:
            raise ValueError(f'unknown block colour {color!r}, expected one of {tuple(BLOCK_COLORS)}')
