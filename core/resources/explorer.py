"""The AstroM3 Explorer, a Panel app: ``panel serve <this file> [--args --sky PATH --workspace PATH]``.

``astrom3 serve`` serves this file from the installed package; from a checkout,
``panel serve apps/explorer.py`` serves a wrapper that calls :func:`main`. Without arguments it
opens the demo sky; on the very first start the page shows a progress bar while
:func:`core.demo.ensure_demo` simulates and analyses it (a few minutes, once).
"""
import argparse
import sys
from pathlib import Path


def _unshadow(script) -> None:
    """Let ``import explorer`` find the package: ``panel serve`` puts the served script's folder on
    ``sys.path``, where a script named ``explorer.py`` would shadow it."""
    here = Path(script).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    if not hasattr(sys.modules.get("explorer"), "__path__"):
        sys.modules.pop("explorer", None)


def paths(argv):
    """``(sky, workspace, prepare)``: what to open, and how to compute it when it has no results."""
    p = argparse.ArgumentParser(prog="explorer.py")
    p.add_argument("--sky", type=Path, default=None)
    p.add_argument("--workspace", type=Path, default=None)
    p.add_argument("--checkpoint", type=Path, default=None, help="model to embed with (default: train one)")
    p.add_argument("--preset", default="cpu", help="preset when a model has to be trained (default cpu)")
    args, _ = p.parse_known_args(argv)
    if args.sky is None:
        from core.demo import demo_paths, ensure_demo
        sky, ws = demo_paths(checkpoint=args.checkpoint)
        return sky, ws, lambda progress: ensure_demo(checkpoint=args.checkpoint, progress_callback=progress)
    ws = args.workspace or args.sky.parent / f"{args.sky.name}-workspace"

    def prepare(progress):
        from core.pipeline import run
        run(args.sky, ws, checkpoint=args.checkpoint, preset=args.preset, progress_callback=progress)
    return args.sky, ws, prepare


def exposure_warning(host: str, authenticated: bool) -> str | None:
    """The warning a page gets when it was reached from another machine and the server has no login."""
    name = host.rsplit(":", 1)[0].strip("[]") if host.count(":") <= 1 or host.startswith("[") else host
    if authenticated or not name or name in ("127.0.0.1", "localhost", "::1"):
        return None
    return (f"This explorer is reachable as {name} without a login: anyone who can reach it can flag objects. "
            f"Serve it with `astrom3 serve --auth basic --users FILE` (or --auth oauth).")


def _warn_if_exposed() -> None:
    import warnings

    import panel as pn

    ctx = pn.state.curdoc.session_context if pn.state.curdoc else None
    request = getattr(ctx, "request", None)
    msg = exposure_warning(getattr(request, "host", "") or "", bool(pn.config.basic_auth or pn.config.oauth_provider))
    if msg:
        warnings.warn(msg, stacklevel=2)
        if pn.state.notifications is not None:
            pn.state.notifications.warning(msg, duration=0)


def main(argv=None, script=__file__) -> None:
    """Build the explorer for ``argv`` (default ``sys.argv[1:]``) and mark it servable.

    ``script`` is the file ``panel serve`` runs (its folder is taken off ``sys.path``).
    """
    _unshadow(script)
    from explorer.app import build_app

    sky, workspace, prepare = paths(sys.argv[1:] if argv is None else argv)
    build_app(sky, workspace, prepare=prepare).servable(title="AstroM3 Explorer")
    _warn_if_exposed()


if __name__.startswith("bokeh_app_"):  # run by `panel serve` (Bokeh names a served script's module so)
    main()
