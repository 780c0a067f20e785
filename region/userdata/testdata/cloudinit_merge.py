#!/usr/bin/env python3
"""Process user data with cloud-init's own code, as a booting machine would.

usage: cloudinit_merge.py USER_DATA WORK_DIR [--run]

It runs what cloud-init's init stage does with user data (stages.Init.consume_data:
UserDataProcessor, then the default part handlers walking the parts and merging the
cloud-config ones), then the config stage's runcmd module, which writes the merged runcmd
as the script "runcmd", and with --run the final stage's scripts-user module, which runs the
user scripts in file-name order (subp.runparts). Everything is written under WORK_DIR, never
under /var/lib/cloud. Boothooks and part-handlers, which cloud-init would run or import
while reading the parts, are recorded, not run.

It prints JSON: cloud-init's version, the merged cloud-config, the user scripts in the order
scripts-user runs them, the recorded boothooks and part-handlers, and the error of
scripts-user (which stops at nothing: runparts runs every script and fails at the end).
"""

import inspect
import json
import logging
import os
import sys

from cloudinit import handlers, helpers, util
from cloudinit import version as ci_version
from cloudinit.config import cc_runcmd, cc_scripts_user
from cloudinit.handlers.cloud_config import CloudConfigPartHandler
from cloudinit.handlers.shell_script import ShellScriptPartHandler
from cloudinit.settings import PER_ALWAYS, PER_INSTANCE, PER_ONCE
from cloudinit.user_data import UserDataProcessor

try:
    from cloudinit.handlers.shell_script_by_frequency import (
        ShellScriptByFreqPartHandler,
    )
except ImportError:  # cloud-init before 21.1
    ShellScriptByFreqPartHandler = None
try:
    from cloudinit.handlers.jinja_template import JinjaTemplatePartHandler
except ImportError:
    JinjaTemplatePartHandler = None

INSTANCE_ID = "i-maasgo-test"


class DataSource:
    """The little of a datasource that Paths and the handlers use."""

    def get_instance_id(self):
        return INSTANCE_ID


class Cloud:
    """The little of cloudinit.cloud.Cloud that runcmd and scripts-user use."""

    def __init__(self, paths):
        self.paths = paths

    def get_ipath(self, name=None):
        return self.paths.get_ipath(name)

    def get_ipath_cur(self, name=None):
        return self.paths.get_ipath_cur(name)

    def get_cpath(self, name=None):
        return self.paths.get_cpath(name)


class Recorder(handlers.Handler):
    """Records the parts of types that cloud-init would run on this machine."""

    def __init__(self, types):
        handlers.Handler.__init__(self, PER_ALWAYS)
        self.types = types
        self.parts = []

    def list_types(self):
        return self.types

    def handle_part(self, data, ctype, filename, payload, frequency):
        if ctype in handlers.CONTENT_SIGNALS:
            return
        self.parts.append(
            {"type": ctype, "filename": filename, "content": payload}
        )


def run_module(mod, cfg, cloud):
    """Calls a config module's handle, whose signature lost `log` in 22.4+."""
    params = inspect.signature(mod.handle).parameters
    if "log" in params:
        mod.handle(mod.__name__, cfg, cloud, logging.getLogger(), [])
    else:
        mod.handle(mod.__name__, cfg, cloud, [])


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    user_data, work = argv[1], os.path.abspath(argv[2])
    run = "--run" in argv[3:]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    paths = helpers.Paths(
        {
            "cloud_dir": os.path.join(work, "cloud"),
            "run_dir": os.path.join(work, "run"),
            "templates_dir": os.path.join(work, "templates"),
        },
        ds=DataSource(),
    )
    # What stages.Init._initialize_filesystem and _reflect_cur_instance set up.
    idir = paths.get_ipath()
    os.makedirs(os.path.join(idir, "scripts"), exist_ok=True)
    os.makedirs(paths.run_dir, exist_ok=True)
    os.symlink(idir, paths.instance_link)

    with open(user_data, "rb") as f:
        blob = f.read()
    msg = UserDataProcessor(paths).process(blob)

    # stages.Init._default_handlers, with the two that run code here recorded.
    cc = CloudConfigPartHandler(paths=paths)
    ss = ShellScriptPartHandler(paths=paths)
    boothooks = Recorder(["text/cloud-boothook"])
    mods = [cc, ss]
    if ShellScriptByFreqPartHandler is not None:
        for freq in (PER_ALWAYS, PER_INSTANCE, PER_ONCE):
            mods.append(ShellScriptByFreqPartHandler(freq, paths=paths))
    mods.append(boothooks)
    if JinjaTemplatePartHandler is not None:
        mods.append(JinjaTemplatePartHandler(paths=paths, sub_handlers=[cc, ss]))
    c_handlers = helpers.ContentHandlers()
    for mod in mods:
        c_handlers.register(mod, overwrite=False)
    part_handlers = Recorder(list(handlers.PART_CONTENT_TYPES))

    # stages.Init._do_handlers: begin, walk, end.
    for _, mod in c_handlers.items():
        if mod not in c_handlers.initialized:
            handlers.call_begin(mod, None, PER_INSTANCE)
            c_handlers.initialized.append(mod)
    part_data = {
        "handlers": c_handlers,
        "handlerdir": paths.get_ipath("handlers"),
        "data": None,
        "frequency": PER_INSTANCE,
        "handlercount": 0,
        "excluded": list(handlers.PART_CONTENT_TYPES),
    }

    def walker(data, filename, payload, headers):
        if headers["Content-Type"] in handlers.PART_CONTENT_TYPES:
            part_handlers.handle_part(
                None, headers["Content-Type"], filename, payload, PER_INSTANCE
            )
        handlers.walker_callback(data, filename, payload, headers)

    handlers.walk(msg, walker, data=part_data)
    for _, mod in c_handlers.items():
        if mod in c_handlers.initialized:
            c_handlers.initialized.remove(mod)
            handlers.call_end(mod, None, PER_INSTANCE)

    cfg = {}
    cfg_fn = paths.get_ipath("cloud_config")
    if os.path.exists(cfg_fn):
        cfg = util.load_yaml(util.load_file(cfg_fn)) or {}

    # The config stage: cc_runcmd writes the merged runcmd as the script "runcmd".
    cloud = Cloud(paths)
    run_module(cc_runcmd, cfg, cloud)

    # The final stage: scripts-user runs every executable file of the scripts
    # directory, sorted by name (subp.runparts).
    sdir = paths.get_ipath_cur("scripts")
    scripts = []
    for name in sorted(os.listdir(sdir)):
        path = os.path.join(sdir, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            scripts.append({"name": name, "content": util.load_file(path)})
    run_error = None
    if run:
        try:
            run_module(cc_scripts_user, cfg, cloud)
        except Exception as e:  # what cloud-init logs as the module's failure
            run_error = str(e)

    json.dump(
        {
            "version": ci_version.version_string(),
            "cloud_config": cfg,
            "scripts": scripts,
            "boothooks": boothooks.parts,
            "part_handlers": part_handlers.parts,
            "ran": run,
            "run_error": run_error,
        },
        sys.stdout,
        default=str,
        indent=1,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
