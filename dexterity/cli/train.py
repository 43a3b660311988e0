"""train.py: train an agent with PPO on any Gymnasium environment (alone, under mpirun or srun)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from dexterity.cli.common import add_config_flags, config_changes, parse_env_kwargs, run_main, set_storage
from dexterity.configs.hp_config import derive_config, get_preset, list_presets, preset_env_kwargs
from dexterity.errors import ConfigError, DexterityError

DEFAULT_ENV = "CartPole-v1"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py", description="Train a policy with PPO on a Gymnasium environment.",
        epilog="Flags override the preset (--pcon), which defaults to one suited to the env (hand, manipulate, "
               "mujoco, pendulum, else discrete or continuous by the action space).")
    parser.add_argument("env", nargs="?", default=None,
                        help=f"Gymnasium env id (default {DEFAULT_ENV}; with --load-from/--fork: the saved agent's)")
    parser.add_argument("--pcon", default=None, help=f"hyperparameter preset: {', '.join(list_presets())}")
    parser.add_argument("--rcon", default=None, help="reward config of a hand task, e.g. manipulate.penalized_force")
    parser.add_argument("--load-from", default=None, metavar="ID", help="resume the saved agent ID")
    parser.add_argument("--fork", default=None, metavar="ID[:SAVE]",
                        help="start a new agent from the saved agent ID's checkpoint SAVE (last, best or a "
                             "cycle; default last): its weights, optimizer, normalisers, training state and "
                             "curves up to there; other flags change its hyperparameters, --env-kwargs its env "
                             "kwargs (key by key). The saved agent is left as it is")
    parser.add_argument("--preload", default=None, metavar="NAME",
                        help="load a pretrained visual encoder (storage/pretrained/NAME) into the agent")
    parser.add_argument("--export-file", default=None, metavar="PATH",
                        help="after training, export the policy (TF SavedModel with normalisation built in)")
    parser.add_argument("--experiment-group", default=None, metavar="NAME",
                        help="put the run into experiment group NAME (meta.json); the monitor filters and "
                             "compares by group")
    parser.add_argument("--no-monitor", action="store_true",
                        help="write no experiment files for the monitor (nor TensorBoard event files)")
    parser.add_argument("--no-progress", action="store_true",
                        help="show no live progress of the gather and optimise phases of cycles longer than 3 s "
                             "(a bar on a terminal, a line every 30 s elsewhere); also DEXTERITY_PROGRESS=off")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (registers custom envs, models, distributions, rewards)")
    parser.add_argument("--env-kwargs", default=None, metavar="JSON", help="keyword arguments for gym.make, as JSON")
    parser.add_argument("--storage", default=None, help="storage root (default: $DEXTERITY_STORAGE or ./storage)")
    add_config_flags(parser)
    return parser


def auto_preset(env_id: str, env_kwargs: dict[str, Any], plugins: list[str]) -> str:
    """A preset suited to the env: hand or manipulate for our tasks, mujoco, pendulum, discrete, continuous."""
    import gymnasium as gym
    from dexterity.envgroup import make_env
    env = make_env(env_id, env_kwargs, plugins)
    try:
        entry = str(getattr(env.spec, "entry_point", ""))
        if "dexterity.environments" in entry:
            return "manipulate" if "Manipulate" in env_id else "hand"
        if "gymnasium.envs.mujoco" in entry:
            return "mujoco"
        if env_id.startswith("Pendulum"):
            return "pendulum"
        discrete = isinstance(env.action_space, (gym.spaces.Discrete, gym.spaces.MultiDiscrete))
        return "discrete" if discrete else "continuous"
    finally:
        env.close()


def _env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kwargs = parse_env_kwargs(args.env_kwargs)
    if args.rcon:
        if kwargs.get("reward_config", args.rcon) != args.rcon:
            raise DexterityError(f"--rcon {args.rcon} and reward_config {kwargs['reward_config']!r} in --env-kwargs "
                                 f"disagree; give one")
        kwargs["reward_config"] = args.rcon
    return kwargs


def _check_flags(args: argparse.Namespace, changes: dict[str, Any]) -> None:
    from dexterity.groups import check_group
    check_group(args.experiment_group)
    if args.experiment_group and args.no_monitor:
        raise ConfigError("--experiment-group is written to the monitor's experiment files, which --no-monitor "
                          "turns off: give one of them")
    from dexterity.agent.progress import settings
    settings()  # a bad DEXTERITY_PROGRESS* variable: one clear line now
    if args.preload:
        from dexterity.pretrained import check_pretrained  # raises a clear error when missing
        check_pretrained(args.preload)
    if args.load_from and (args.pcon or args.rcon or args.env_kwargs):
        raise ConfigError("--load-from resumes a saved agent with its own preset, reward config and env; "
                          "drop --pcon/--rcon/--env-kwargs")
    if args.fork is not None:
        if args.load_from:
            raise ConfigError("--fork starts a new agent and --load-from continues one: give one of them")
        if args.pcon:
            raise ConfigError("--fork keeps the saved agent's preset; change single hyperparameters by their flags")
        parse_fork(args.fork)


def parse_fork(text: str) -> tuple[str, str]:
    """'ID' or 'ID:SAVE' -> (ID, SAVE), SAVE 'last' by default; ConfigError when malformed."""
    agent_id, _, save = text.partition(":")
    if not agent_id or (_ and not save):
        raise ConfigError(f"--fork takes ID or ID:SAVE (SAVE: last, best or a cycle number), got {text!r}")
    from dexterity.storage import check_save_name
    return agent_id, check_save_name(save or "last")


def _check_saved_env(env_id: str | None, agent_id: str, save: str) -> None:
    """ConfigError when an env is named beside --load-from/--fork and is not the saved agent's."""
    if env_id is None:
        return
    from dexterity.agent import checkpoint as ckpt
    saved = ckpt.read_info(ckpt.checkpoint_dir(agent_id, save))["env_id"]
    if env_id != saved:
        raise ConfigError(f"agent {agent_id} trains on {saved}, not {env_id}: drop the env id (a saved agent "
                          "keeps its env)")


def make_agent(args: argparse.Namespace, comm: Any, role: Any = None) -> Any:
    """Build a new agent from the flags, resume one with --load-from or fork one with --fork."""
    from dexterity.agent.ppo import PPOAgent
    changes = config_changes(args)
    common = dict(comm=comm, write_experiment=not args.no_monitor, role=role, experiment_group=args.experiment_group,
                  progress=not args.no_progress)
    if args.load_from or args.fork is not None:
        agent_id, save = (args.load_from, "last") if args.load_from else parse_fork(args.fork)
        _check_saved_env(args.env, agent_id, save)
        if args.load_from:
            return PPOAgent.resume(agent_id, changes, **common)
        return PPOAgent.fork(agent_id, save, changes, _env_kwargs(args), **common)
    env_id = args.env or DEFAULT_ENV
    env_kwargs = _env_kwargs(args)
    preset = args.pcon or auto_preset(env_id, env_kwargs, args.plugin)
    env_kwargs = {**preset_env_kwargs(preset), **env_kwargs}  # the preset's training aids, unless set
    config = derive_config(get_preset(preset), changes)
    return PPOAgent(env_id, config, env_kwargs=env_kwargs, plugins=args.plugin, preset=preset, **common)


def _header(agent: Any) -> str:
    c = agent.config
    dist = type(agent.policy.distribution).name
    return (f"agent {agent.agent_id} | {agent.env_id} | preset {agent.preset} | {c['architecture']}/{c['model']}"
            f"{'/shared' if c['shared'] else ''} | {dist} | {c['workers']} envs x {c['horizon']} steps"
            f"{f' on {agent.comm.size} ranks' if agent.comm.size > 1 else ''} | seed {c['seed']}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_storage(args.storage)
    changes = config_changes(args)
    _check_flags(args, changes)
    from dexterity.envpool import import_plugins
    import_plugins(args.plugin)  # before TensorFlow loads: a broken plugin fails in well under a second
    from dexterity import tf_setup
    from dexterity.devices import apply_role, cpu_threads, gpu_ids, plan_roles
    from dexterity.distributed import make_comm
    comm = make_comm()
    if comm.is_root:  # rank 0 writes checkpoints and monitor files
        from dexterity.storage import check_writable
        check_writable()  # one clear line now, not a traceback after the envs are built
    cpu = bool(changes.get("cpu"))
    role = plan_roles(comm, force_cpu=cpu)
    apply_role(role, gpus_present=bool(gpu_ids()) and not cpu)
    tf = tf_setup.tensorflow(cpu=cpu, threads=cpu_threads(role.local_ranks))
    if changes.get("debug"):
        tf.config.run_functions_eagerly(True)
    agent = make_agent(args, comm, role)
    try:
        if args.export_file:
            from dexterity.agent.export import check_exportable
            check_exportable(agent.brain, args.export_file)
        if args.preload:
            from dexterity.pretrained import preload_encoder
            preload_encoder(agent.policy.model, args.preload)
        if comm.is_root:
            print(_header(agent), flush=True)
            print(f"envs: {agent.pool.layout.describe()}", flush=True)
            if "tbptt" in config_changes(args) and not agent.policy.recurrent:
                print("note: --tbptt has no effect: the model has no recurrent state", file=sys.stderr)
        agent.drill()
        if args.export_file and comm.is_root:
            from dexterity.agent.export import export_policy
            export_policy(agent.brain, args.export_file)
            print(f"exported the policy to {args.export_file}")
        if comm.is_root:
            best = f"{agent.best_return:.2f}" if agent.best_return > -float("inf") else "n/a (no episode ended)"
            print(f"done: agent {agent.agent_id} at cycle {agent.iteration}, {agent.frames} frames, "
                  f"best mean return {best}" + ("" if agent.log is None else f"; files in {agent.log.dir}"))
    finally:
        agent.close()
    return 0


def cli() -> None:
    run_main(lambda: main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
