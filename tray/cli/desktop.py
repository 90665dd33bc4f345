"""`run`, `find`, `demo`, `simulator`: the tray, its finder page, and the built-in Identity Center."""

from __future__ import annotations


def cmd_find(args) -> int:
    from tray.ui.finder import channel, open_in_browser

    url = channel.page_url(args.text)
    if args.print_url:
        print(url)  # asked for: a one-time ticket to the page, like `console --print`
    else:
        open_in_browser(url)
    return 0

def cmd_simulator(args) -> int:
    from tray.simulator.cli import main as simulator_main

    return simulator_main(args.simulator_args)

def cmd_run(args) -> int:
    from tray.ui.app import run

    return run()

def cmd_demo(args) -> int:
    from tray.cli.demo import main as demo_main

    return demo_main(accounts=args.accounts, tray=not args.no_tray)
