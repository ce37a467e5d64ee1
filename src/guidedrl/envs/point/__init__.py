"""A point robot on MuJoCo, two tasks for it, and their verified repulsive guides.

One module per job: :mod:`~guidedrl.envs.point.robot` (Safety Gym's "Point": its MuJoCo model,
constants and top speeds), :mod:`~guidedrl.envs.point.tasks` (``PointCircle-v0`` and
``PointReach-v0``) and :mod:`~guidedrl.envs.point.guides` (the repulsive reflex, each task's
guide and their verification, with how the thresholds were chosen). This package's names are
theirs, gathered (``guidedrl.envs.point.verify_region``, ``point.ROBOT_RADIUS``, ...); the
tasks and guides are registered by :mod:`guidedrl.envs` under their modules' own names.
"""

from guidedrl.envs.point.guides import (
    CIRCLE_GUIDE_DISTANCE,
    CIRCLE_GUIDE_X,
    REFLEX_THRUST_GAIN,
    REFLEX_TURN_GAIN,
    VERIFIED_DEPTH,
    VERIFY_HORIZON,
    circle_guide_confidence,
    circle_guide_distance,
    circle_guide_policy,
    point_circle_guide,
    point_reach_guide,
    reach_clearance,
    reach_guide_confidence,
    reach_guide_policy,
    repulsive_reflex,
    simulate_batch,
    verify_region,
)
from guidedrl.envs.point.robot import (
    CONTROL_DT,
    FORWARD_FORCE,
    LINEAR_DAMPING,
    MAX_SPEED,
    MAX_TURN_RATE,
    N_SUBSTEPS,
    ROBOT_MASS,
    ROBOT_RADIUS,
    TIMESTEP,
    TURN_TIME_CONSTANT,
    measure_top_speeds,
    point_model,
    rotate_into_robot_frame,
)
from guidedrl.envs.point.tasks import (
    ARENA_HALF_WIDTH,
    CIRCLE_RADIUS,
    CIRCLE_START_HALF_WIDTH,
    GOAL_BONUS,
    GOAL_MIN_DISTANCE,
    GOAL_RADIUS,
    MAX_EPISODE_STEPS,
    N_OBSTACLES,
    OBSTACLE_GAP,
    OBSTACLE_RADIUS,
    PROGRESS_SCALE,
    REACH_GUIDE_CLEARANCE,
    START_CLEARANCE,
    WALL_X,
    PointCircleEnv,
    PointEnv,
    PointReachEnv,
    circle_observation,
    circle_reward,
    circle_wall_distance,
    obstacle_clearance,
    reach_observation,
    sample_reach_layout,
)

__all__ = [
    # the robot
    "ROBOT_RADIUS", "ROBOT_MASS", "LINEAR_DAMPING", "FORWARD_FORCE", "MAX_SPEED", "MAX_TURN_RATE",
    "TURN_TIME_CONSTANT", "TIMESTEP", "N_SUBSTEPS", "CONTROL_DT", "point_model", "rotate_into_robot_frame",
    "measure_top_speeds",
    # the tasks
    "MAX_EPISODE_STEPS", "CIRCLE_RADIUS", "WALL_X", "CIRCLE_START_HALF_WIDTH", "ARENA_HALF_WIDTH", "N_OBSTACLES",
    "OBSTACLE_RADIUS", "GOAL_RADIUS", "GOAL_MIN_DISTANCE", "OBSTACLE_GAP", "PROGRESS_SCALE", "GOAL_BONUS",
    "REACH_GUIDE_CLEARANCE", "START_CLEARANCE", "PointEnv", "PointCircleEnv", "PointReachEnv",
    "circle_observation", "circle_wall_distance", "circle_reward", "reach_observation", "obstacle_clearance",
    "sample_reach_layout",
    # the guides
    "CIRCLE_GUIDE_DISTANCE", "CIRCLE_GUIDE_X", "REFLEX_TURN_GAIN", "REFLEX_THRUST_GAIN", "VERIFIED_DEPTH",
    "VERIFY_HORIZON", "repulsive_reflex", "circle_guide_policy", "circle_guide_distance",
    "circle_guide_confidence", "point_circle_guide", "reach_guide_policy", "reach_clearance",
    "reach_guide_confidence", "point_reach_guide", "simulate_batch", "verify_region",
]
