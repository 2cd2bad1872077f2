"""``music-recsys`` / ``python -m music_recsys``: run the project's pipelines, or ask the model.

music-recsys recommend "Coldplay" "The Scientist" -k 10   # what should play next?
music-recsys serve [model.tar.gz] --port 8080              # the package as a local endpoint
music-recsys [kedro run options]                           # the packaged `kedro run`
"""

import sys
from pathlib import Path
from typing import Any


def main(*args, **kwargs) -> Any:
    argv = list(args[0]) if args and isinstance(args[0], list | tuple) else sys.argv[1:]
    if argv[:1] == ["recommend"]:
        from music_recsys.serving.recommend import main as recommend  # noqa: PLC0415

        return sys.exit(recommend(argv[1:]))
    if argv[:1] == ["serve"]:
        from music_recsys.serving.server import main as serve  # noqa: PLC0415

        return sys.exit(serve(argv[1:]))

    # Kedro is imported only here: it configures logging on import, which `recommend` needn't.
    from kedro.framework.cli.utils import find_run_command  # noqa: PLC0415
    from kedro.framework.project import configure_project  # noqa: PLC0415

    package_name = Path(__file__).parent.name
    configure_project(package_name)

    interactive = hasattr(sys, "ps1")
    kwargs["standalone_mode"] = not interactive

    run = find_run_command(package_name)
    return run(*args, **kwargs)


if __name__ == "__main__":
    main()
