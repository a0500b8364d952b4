"""Observation layouts the server accepts, and what the node sends to a remote server.

    aloha       openpi's ALOHA example: "state" [14] (ALOHA units), "images" {cam_high, cam_low,
                cam_left_wrist, cam_right_wrist}: uint8 (or float in [0, 1]) C×H×W, "prompt"
    droid       openpi's DROID example: "observation/exterior_image_1_left", "observation/wrist_image_left"
                (H×W×3), "observation/joint_position" [7], "observation/gripper_position" [1], "prompt"
    embodiment  the served embodiment's own: "state" [valid dims] in pi0_ros units (grippers 0 = open),
                "images" {embodiment camera slot: H×W×3 uint8}, "prompt"

ALOHA and DROID observations are in the checkpoint's data space and get actions in it ([H, 14] ALOHA
joints and normalised gripper; [H, 8] DROID joint velocities and gripper); the embodiment layout gets
[H, valid dims] in pi0_ros units (DROID velocities integrated into positions).
"""

from __future__ import annotations

import numpy as np

from ..convention_policy import ConventionPolicy, Sample

DROID_KEYS = ("observation/exterior_image_1_left", "observation/wrist_image_left", "observation/joint_position",
              "observation/gripper_position")
DROID_CAMERAS = {"exterior_image_1_left": "observation/exterior_image_1_left",
                 "wrist_image_left": "observation/wrist_image_left"}


class MalformedObservationError(ValueError):
    """The observation does not fit any layout this server accepts; the text says why."""


def detect_layout(obs) -> str:
    """Which layout an observation dict uses."""
    if not isinstance(obs, dict):
        raise MalformedObservationError(f"an observation is a map, got {type(obs).__name__}")
    if any(k in obs for k in DROID_KEYS):
        return "droid"
    images = obs.get("images")
    if not isinstance(images, dict) or "state" not in obs:
        raise MalformedObservationError('expected "state" and "images" (ALOHA or embodiment layout) or the DROID '
                                   f'keys {list(DROID_KEYS)}; got keys {sorted(map(str, obs))}')
    return "aloha" if any(str(k).startswith("cam_") for k in images) else "embodiment"


def _image(value, name: str, channels_first: bool) -> np.ndarray:
    image = np.asarray(value)
    if image.ndim != 3:
        raise MalformedObservationError(f"image {name!r} must have 3 dims, got shape {image.shape}")
    if np.issubdtype(image.dtype, np.floating):
        image = (255 * image).astype(np.uint8)     # openpi reads float images as [0, 1]
    if channels_first or (image.shape[0] == 3 and image.shape[-1] != 3):
        image = np.moveaxis(image, 0, -1)
    if image.shape[-1] != 3 or image.dtype != np.uint8:
        raise MalformedObservationError(f"image {name!r} must be 3-channel uint8, got {image.shape} {image.dtype}")
    # A channels-first image stays a strided view: the model's pixel conversion reads it once anyway, and
    # a contiguous H×W×3 copy of three 224² cameras cost about 0.5 ms a request (PIL copies a view itself).
    return image


def _vector(value, name: str) -> np.ndarray:
    try:
        vec = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise MalformedObservationError(f"{name!r} must be numeric, got {type(value).__name__}") from None
    return vec


def _prompt(obs) -> str | None:
    prompt = obs.get("prompt")
    if isinstance(prompt, bytes):
        prompt = prompt.decode("utf-8")
    if prompt is not None and not isinstance(prompt, str):
        raise MalformedObservationError(f'"prompt" must be a string, got {type(prompt).__name__}')
    return prompt


def to_sample(obs: dict, policy: ConventionPolicy) -> tuple[str, Sample]:
    """(layout, data-space sample) for an observation."""
    conv = policy.conv
    layout = detect_layout(obs)
    if layout != "embodiment" and layout != conv.layout:
        raise MalformedObservationError(f"a {layout} observation, but this server's checkpoint ({conv.name}) takes the "
                                   f"{conv.layout} layout or the embodiment's own")
    slots = {conv.cameras[s]: s for s in policy.camera_slots}     # training camera -> model slot
    if layout == "droid":
        missing = [k for k in DROID_KEYS if k not in obs]
        if missing:
            raise MalformedObservationError(f"DROID observation lacks {missing}")
        state = np.concatenate([_vector(obs["observation/joint_position"], "observation/joint_position"),
                                _vector(obs["observation/gripper_position"], "observation/gripper_position")])
        images = {slots[c]: _image(obs[k], k, False) for c, k in DROID_CAMERAS.items() if c in slots}
        return layout, Sample(state, images, _prompt(obs))
    images_in = obs["images"]
    if layout == "aloha":
        unknown = sorted(set(map(str, images_in)) - {"cam_high", "cam_low", "cam_left_wrist", "cam_right_wrist"})
        if unknown:
            raise MalformedObservationError(f"unknown ALOHA camera(s) {unknown}")
        images = {slots[c]: _image(v, c, True) for c, v in images_in.items() if c in slots}
        return layout, Sample(_vector(obs["state"], "state"), images, _prompt(obs))
    feeds = policy.robot_cameras                                   # model slot -> embodiment camera
    unknown = sorted(set(map(str, images_in)) - set(feeds.values()))
    if unknown:
        raise MalformedObservationError(f"camera(s) {unknown} feed no model slot; this server takes "
                                   f"{sorted(feeds.values())}")
    images = {slot: _image(images_in[cam], cam, False) for slot, cam in feeds.items() if cam in images_in}
    state = policy.state_robot_to_data(_vector(obs["state"], "state"))
    return layout, Sample(state, images, _prompt(obs))


def to_response(layout: str, chunk: np.ndarray, sample: Sample, policy: ConventionPolicy) -> np.ndarray:
    """The actions to send back for a data-space chunk, in the layout's units (float32 [H, D])."""
    if layout == "embodiment":
        chunk = policy.actions_data_to_robot(chunk, sample.state)
    return np.asarray(chunk, np.float32)


def node_observation(layout: str, state: np.ndarray, images: dict[str, np.ndarray], prompt: str,
                     gripper_dims: tuple[int, ...]) -> dict:
    """What the policy node sends to a remote server, from pi0_ros units and embodiment cameras."""
    state = np.asarray(state, np.float32)
    if layout == "embodiment":
        return {"state": state, "images": dict(images), "prompt": prompt}
    if layout == "aloha":
        flipped = state.copy()
        flipped[list(gripper_dims)] = 1.0 - flipped[list(gripper_dims)]
        names = {"base": "cam_high", "left_wrist": "cam_left_wrist", "right_wrist": "cam_right_wrist"}
        return {"state": flipped, "prompt": prompt,
                "images": {names[s]: np.ascontiguousarray(np.moveaxis(im, -1, 0)) for s, im in images.items()
                           if s in names}}
    if layout == "droid":
        obs = {"observation/joint_position": state[:7], "observation/gripper_position": state[7:8], "prompt": prompt}
        for slot, key in (("base", DROID_KEYS[0]), ("left_wrist", DROID_KEYS[1])):
            if slot in images:
                obs[key] = images[slot]
        return obs
    raise ValueError(f"unknown server layout {layout!r}")


DROID_RATE_HZ = 15.0


def node_actions(layout: str, actions: np.ndarray, state: np.ndarray, gripper_dims: tuple[int, ...],
                 valid_dims: int) -> np.ndarray:
    """A remote reply in the layout's units -> [H, valid_dims] in pi0_ros units."""
    from ..convention_math import flip_grippers, integrate_velocities

    actions = np.asarray(actions, np.float64)
    if actions.ndim != 2 or actions.shape[1] < valid_dims:
        raise ValueError(f"the server sent actions of shape {actions.shape}; this robot needs [H, {valid_dims}]")
    actions = actions[:, :valid_dims]
    if layout == "aloha":
        return flip_grippers(actions, gripper_dims)
    if layout == "droid":
        return integrate_velocities(actions, state, (True,) * 7, 1.0 / DROID_RATE_HZ)
    return actions
