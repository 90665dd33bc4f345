"""The desktop side: the tray icon and its menu (pystray, Pillow), notifications, the finder page.

`app` starts the tray and wires the engine to the surface; `menu` and `lazymenu` turn a State into a menu,
`icons` a State into an image; `surface` keeps pystray's calls on the UI thread; `notify` and `platform`
hold what differs per desktop; `finder/` serves the role finder page; `terminals` serves credentials to
terminals (the tray's container credentials endpoint).

May import every room of `tray.core`; never boto3 itself, never `tray.cli`.
"""
