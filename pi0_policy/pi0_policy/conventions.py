"""Checkpoint conventions as data: what a checkpoint's authors did to the data around the network.

A conventions file (``pi0_conventions.yaml`` beside the weights) or a preset by name
(:mod:`pi0_policy.convention_presets`: openpi's published configs) states:

    name: pi0_aloha_towel
    source: openpi                 # openpi | lerobot | pi0_ros: normalisation arithmetic and prompt format
    layout: aloha                  # the training data's space: aloha | droid | embodiment
    state_dim: 14                  # dims of the state and of the actions the robot gets, in that space
    action_dim: 14
    actions: delta                 # absolute | delta (against the state at chunk start) | velocity
    delta_mask: [6, -1, 6, -1]     # delta: which dims are relative (run lengths or booleans)
    velocity_mask: [7, -1]         # velocity: which dims are joint velocities
    adapt_to_pi: true              # ALOHA only: sign flips and gripper conversion (convention_math)
    gripper_dims: [6, 13]
    gripper_open: 1                # the gripper value that means open in this space (pi0_ros: 0)
    norm: {asset_id: trossen, state: mean_std, actions: mean_std}
    cameras: {base: cam_high, left_wrist: cam_left_wrist, right_wrist: cam_right_wrist}
    robot_cameras: {}              # optional: training camera -> embodiment camera, where not the default
    action_horizon: 50
    control_rate_hz: 50
    executed_steps: 25
    default_prompt: fold the towel # used when a request has no prompt
    prompt_format: openpi          # openpi | lerobot

``cameras`` maps the model's image slots, in prefix order (base, left_wrist, right_wrist), to the
training data's camera names. An unknown key, a missing field or an inconsistent combination raises
:class:`ConventionsError` naming the field and what to set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .convention_math import ALOHA_DIMS, bool_mask
from .norm_modes import parse_mode

CONVENTIONS_FILE = "pi0_conventions.yaml"
SOURCES = ("openpi", "lerobot", "pi0_ros")
LAYOUTS = ("aloha", "droid", "embodiment")
ACTIONS = ("absolute", "delta", "velocity")
PROMPT_FORMATS = ("openpi", "lerobot")
MODEL_SLOTS = ("base", "left_wrist", "right_wrist")
# Which embodiment camera feeds each training camera, per layout (ALOHA's cam_low is not used by π₀).
DEFAULT_ROBOT_CAMERAS = {
    "aloha": {"cam_high": "base", "cam_left_wrist": "left_wrist", "cam_right_wrist": "right_wrist"},
    "droid": {"exterior_image_1_left": "base", "wrist_image_left": "left_wrist"},
}


class ConventionsError(ValueError):
    """A conventions file or preset is unknown, malformed or inconsistent; the text names the field."""


@dataclass(frozen=True)
class Conventions:
    name: str
    source: str
    layout: str
    state_dim: int
    action_dim: int
    actions: str
    action_horizon: int
    control_rate_hz: float
    executed_steps: int
    cameras: dict[str, str]
    norm_state: str = "mean_std"
    norm_actions: str = "mean_std"
    asset_id: str | None = None
    delta_mask: tuple[bool, ...] | None = None
    velocity_mask: tuple[bool, ...] | None = None
    adapt_to_pi: bool = False
    gripper_dims: tuple[int, ...] = ()
    gripper_open: int = 0
    robot_cameras: dict[str, str] = field(default_factory=dict)
    default_prompt: str | None = None
    prompt_format: str = "openpi"

    def __post_init__(self):
        _validate(self)

    @property
    def dt(self) -> float:
        return 1.0 / self.control_rate_hz

    @property
    def normalization_flavour(self) -> str:
        return "lerobot" if self.source == "lerobot" else "openpi"

    def robot_camera_for(self, training_camera: str) -> str:
        """The embodiment camera that feeds a training camera (explicit, per layout, or the same name)."""
        if training_camera in self.robot_cameras:
            return self.robot_cameras[training_camera]
        return DEFAULT_ROBOT_CAMERAS.get(self.layout, {}).get(training_camera, training_camera)

    def describe(self) -> str:
        extra = [f"mask {''.join('1' if m else '0' for m in self.delta_mask)}" if self.delta_mask else "",
                 "adapt_to_pi" if self.adapt_to_pi else "", f"asset {self.asset_id}" if self.asset_id else ""]
        return (f"conventions {self.name} ({self.source}, {self.layout} layout, {self.actions} actions"
                + "".join(f", {e}" for e in extra if e) + f", {self.control_rate_hz:g} Hz, "
                f"horizon {self.action_horizon}, executes {self.executed_steps}, state {self.norm_state}, "
                f"actions {self.norm_actions})")


def _fail(field_name: str, text: str) -> None:
    raise ConventionsError(f"conventions field '{field_name}': {text}")


def _validate(c: Conventions) -> None:  # noqa: C901 - one check per rule, in the file's order
    for name, allowed in (("source", SOURCES), ("layout", LAYOUTS), ("actions", ACTIONS),
                          ("prompt_format", PROMPT_FORMATS)):
        if getattr(c, name) not in allowed:
            _fail(name, f"{getattr(c, name)!r} is not one of {', '.join(allowed)}")
    for name in ("state_dim", "action_dim", "action_horizon", "executed_steps"):
        if not isinstance(getattr(c, name), int) or getattr(c, name) < 1:
            _fail(name, f"must be a positive integer, got {getattr(c, name)!r}")
    if not c.control_rate_hz > 0:
        _fail("control_rate_hz", f"must be positive, got {c.control_rate_hz!r}")
    if c.executed_steps > c.action_horizon:
        _fail("executed_steps", f"{c.executed_steps} is more than the action_horizon {c.action_horizon}")
    if c.actions == "delta" and not c.delta_mask:
        _fail("delta_mask", "delta actions need a mask saying which dims are relative (e.g. [6, -1, 6, -1])")
    if c.actions != "delta" and c.delta_mask:
        _fail("delta_mask", f"given, but actions is {c.actions!r} (set actions: delta, or drop the mask)")
    if c.actions == "velocity" and not c.velocity_mask:
        _fail("velocity_mask", "velocity actions need a mask saying which dims are velocities (e.g. [7, -1])")
    if c.actions != "velocity" and c.velocity_mask:
        _fail("velocity_mask", f"given, but actions is {c.actions!r}")
    for name in ("delta_mask", "velocity_mask"):
        mask = getattr(c, name)
        if mask and len(mask) > min(c.action_dim, c.state_dim):
            _fail(name, f"has {len(mask)} dims, more than action_dim/state_dim {min(c.action_dim, c.state_dim)}")
    if c.adapt_to_pi and (c.layout != "aloha" or c.state_dim != ALOHA_DIMS or c.action_dim != ALOHA_DIMS):
        _fail("adapt_to_pi", f"only for the aloha layout with {ALOHA_DIMS} state and action dims "
              f"(here {c.layout}, {c.state_dim}/{c.action_dim})")
    if c.layout == "aloha" and (c.state_dim != ALOHA_DIMS or tuple(c.gripper_dims) != (6, 13)):
        _fail("layout", f"aloha means {ALOHA_DIMS} dims with grippers at [6, 13]")
    if c.layout == "droid" and (c.state_dim != 8 or tuple(c.gripper_dims) != (7,)):
        _fail("layout", "droid means 7 joints and a gripper (state_dim 8, gripper_dims [7])")
    bad = [d for d in c.gripper_dims if not 0 <= d < min(c.state_dim, c.action_dim)]
    if bad:
        _fail("gripper_dims", f"{bad} outside the {min(c.state_dim, c.action_dim)} dims")
    if c.gripper_open not in (0, 1):
        _fail("gripper_open", f"0 or 1 (the value that means open), got {c.gripper_open!r}")
    if not c.cameras:
        _fail("cameras", f"map at least one of the model's image slots {list(MODEL_SLOTS)} to a camera")
    unknown = sorted(set(c.cameras) - set(MODEL_SLOTS))
    if unknown:
        _fail("cameras", f"{unknown} are not model image slots; keys are {list(MODEL_SLOTS)}")
    parse_mode(c.norm_state, "norm.state")
    parse_mode(c.norm_actions, "norm.actions")


_KEYS = {"name", "source", "layout", "state_dim", "action_dim", "actions", "delta_mask", "velocity_mask",
         "adapt_to_pi", "gripper_dims", "gripper_open", "norm", "cameras", "robot_cameras", "action_horizon",
         "control_rate_hz", "executed_steps", "default_prompt", "prompt_format"}
_REQUIRED = ("name", "source", "layout", "state_dim", "action_dim", "actions", "cameras", "action_horizon",
             "control_rate_hz", "executed_steps")


def conventions_from_dict(raw: dict, where: str = "conventions") -> Conventions:
    """Build and validate conventions from a parsed file."""
    if not isinstance(raw, dict):
        raise ConventionsError(f"{where}: expected a mapping of fields, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ConventionsError(f"{where}: unknown field(s) {unknown}; known: {sorted(_KEYS)}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ConventionsError(f"{where}: missing field(s) {missing}")
    norm = raw.get("norm") or {}
    if not isinstance(norm, dict) or set(norm) - {"asset_id", "state", "actions"}:
        raise ConventionsError(f"{where}: field 'norm' takes asset_id, state and actions, got {norm!r}")
    try:
        masks = {k: bool_mask(raw[k]) if raw.get(k) else None for k in ("delta_mask", "velocity_mask")}
        return Conventions(
            name=str(raw["name"]), source=raw["source"], layout=raw["layout"], state_dim=raw["state_dim"],
            action_dim=raw["action_dim"], actions=raw["actions"], action_horizon=raw["action_horizon"],
            control_rate_hz=float(raw["control_rate_hz"]), executed_steps=raw["executed_steps"],
            cameras=dict(raw["cameras"]), asset_id=norm.get("asset_id"),
            norm_state=parse_mode(norm.get("state", "mean_std"), "norm.state"),
            norm_actions=parse_mode(norm.get("actions", "mean_std"), "norm.actions"),
            adapt_to_pi=bool(raw.get("adapt_to_pi", False)), gripper_dims=tuple(raw.get("gripper_dims") or ()),
            gripper_open=raw.get("gripper_open", 0), robot_cameras=dict(raw.get("robot_cameras") or {}),
            default_prompt=raw.get("default_prompt"), prompt_format=raw.get("prompt_format", "openpi"), **masks)
    except ConventionsError as e:
        raise ConventionsError(f"{where}: {e}") from None
    except (TypeError, ValueError) as e:
        raise ConventionsError(f"{where}: {e}") from None


def load_conventions(spec: str | Path, checkpoint: str | Path | None = None,
                     control_rate_hz: float = 0.0) -> Conventions:
    """Conventions by preset name, by file path, or (empty spec) from the checkpoint folder.

    Order for an empty spec: ``<checkpoint>/pi0_conventions.yaml``, then a LeRobot ``config.json`` there
    (whose rate is ``control_rate_hz``: LeRobot configs do not record it).
    """
    from .convention_presets import PRESETS, preset

    spec = str(spec or "")
    if spec in PRESETS or spec.startswith("pi0_base:"):
        return preset(spec)
    path = Path(spec).expanduser() if spec else None
    if path is None and checkpoint is not None:
        path = Path(checkpoint) / CONVENTIONS_FILE
        if not path.is_file():
            from .lerobot_conventions import conventions_from_lerobot_folder
            found = conventions_from_lerobot_folder(checkpoint, control_rate_hz)
            if found is not None:
                return found
            raise ConventionsError(f"{checkpoint}: no {CONVENTIONS_FILE} and no LeRobot config.json; set the "
                                   f"conventions to a preset ({', '.join(sorted(PRESETS))}) or a file")
    if path is None or not path.is_file():
        raise ConventionsError(f"conventions {spec!r}: neither a preset ({', '.join(sorted(PRESETS))}, "
                               f"pi0_base:<asset>) nor a file")
    return conventions_from_dict(yaml.safe_load(path.read_text()), str(path))
