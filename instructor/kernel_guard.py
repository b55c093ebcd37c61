"""Runs inside the student's kernel: puts the interpreter back as it was before each test cell.

The grader sends this file's source to a fresh kernel before the first cell (the course's own
``instructor`` package is not visible in the sandbox) and then, before every test cell, asks
for ``restore()``. It is evaluated as an IPython *user expression*, which no input or AST
transformer rewrites. It undoes what an answer cell could do to make a test pass without
solving anything: AST and input transformers, custom exception handlers, a replaced traceback
display or ``run_cell``, event callbacks, trace functions, patched functions and attributes of
``torch``, ``numpy``, ``builtins`` and the course's test helpers, and names that the locked
set-up cells defined (``assert_tensor_close = lambda *a: None``). It reports what it undid, so
the grader can flag the submission.

The test cell itself runs through ``run_test()``, in a namespace of its own: the student's
names, with the set-up names, ``torch``, ``numpy``, ``math``, the builtins and the test helpers
replaced by private copies taken when the guard was installed (:func:`_private_copies`), so an
answer that patches ``torch.allclose`` or rebinds ``assert_tensor_close`` when the test calls
it, and puts them back before the cell ends, changes nothing the test compares with. An audit
hook (which cannot be removed) watches the test while it runs: a trace or profile function set,
or a function's code changed, fails the test, whatever it looks like afterwards; and each call
of a test helper first checks that ``torch.Tensor`` (whose methods the helpers call) is as it
was. The grader calls ``restore()`` again after each test cell: whatever the tested code changed
and left changed fails that test. Threads the kernel did not start with are
stopped. This is a best effort, not a boundary: code running in the same process as the tests
could also patch this guard. The static scan (instructor.scan) flags such code for review.
"""
import importlib
import json
import sys
import sysconfig
import threading
import types

PROTECTED_MODULES = ("builtins", "math", "operator", "numpy", "torch", "torch.nn", "torch.nn.functional",
                     "torch.autograd", "utils.testing")
WATCHED_EVENTS = ("sys.settrace", "sys.setprofile", "object.__setattr__", "object.__delattr__")
SHELL_OVERRIDES = ("run_cell", "run_cell_async", "should_run_async", "transform_cell", "transform_ast",
                   "run_ast_nodes", "run_code", "showtraceback", "_showtraceback", "showsyntaxerror",
                   "showindentationerror", "user_expressions", "get_exception_only", "_get_exc_info",
                   "excepthook", "CustomTB", "custom_exceptions")


class GradingIntegrityError(AssertionError):
    """The test cannot count: the tested code changed the interpreter while the test ran."""


class Guard:
    def __init__(self, shell):
        self.shell = shell
        self.instance_attributes = {name: vars(shell).get(name, _MISSING) for name in SHELL_OVERRIDES}
        self.modules = {}
        for name in PROTECTED_MODULES:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
            self.modules[name] = (module, dict(vars(module)))
        self.functions = [(f, f.__code__, f.__defaults__, f.__kwdefaults__)
                          for module, saved in self.modules.values() for f in saved.values()
                          if isinstance(f, types.FunctionType) and f.__module__ == module.__name__
                          and module.__name__ == "utils.testing"]
        classes = [*type(shell).__mro__[:-1]]
        if "torch" in self.modules:
            classes.append(self.modules["torch"][0].Tensor)
        self.classes = [(cls, dict(vars(cls))) for cls in classes]
        self.shell_state = {
            "ast_transformers": list(shell.ast_transformers),
            "input_transformers_post": list(shell.input_transformers_post),
            "input_transformer_manager": shell.input_transformer_manager,
            "compile": shell.compile,
            "displayhook": shell.displayhook,
            "display_pub": shell.display_pub,
        }
        manager = shell.input_transformer_manager
        self.manager_lists = {name: list(getattr(manager, name)) for name in
                              ("cleanup_transforms", "line_transforms", "token_transformers")}
        self.compile_flags = shell.compile.flags
        # Callbacks that run before a cell could rebind names after restore(); later ones cannot
        # change a test's outcome (and matplotlib adds one of those itself).
        self.callbacks = {event: list(shell.events.callbacks[event]) for event in ("pre_execute", "pre_run_cell")}
        self.sys_state = {name: getattr(sys, name) for name in ("displayhook", "excepthook", "stdout", "stderr",
                                                                 "stdin", "breakpointhook")}
        self.threads = {t.ident for t in threading.enumerate()}
        self.trusted_names = {}
        self.private = _private_copies(self.modules, self._check_classes)
        self.watching, self.seen = False, []
        sys.addaudithook(self._audit)

    def _audit(self, event, args):
        """Record what the interpreter reports while a test runs (see WATCHED_EVENTS)."""
        if not self.watching or event not in WATCHED_EVENTS:
            return
        if event.startswith("object."):
            target, name = args[0], args[1]
            changer = sys._getframe(1).f_code.co_filename  # the code that assigns
            if (isinstance(target, types.FunctionType) and name in ("__code__", "__defaults__", "__kwdefaults__")
                    and not changer.startswith(LIBRARY_PATHS)):
                self.seen.append(f"{target.__qualname__}.{name} changed while the test ran")
        else:
            self.seen.append(f"{event.split('.')[1]} called while the test ran")

    def _check_classes(self):
        """Fail the test if a protected class differs from its saved state now (run as a test
        helper starts: a patch that will undo itself is still in place then)."""
        if not self.watching:
            return
        changed = [f"{cls.__name__}.{key}" for cls, saved in self.classes for key, value in saved.items()
                   if vars(cls).get(key, _MISSING) is not value and not key.startswith("__dict")
                   and not _library_wrapper(vars(cls).get(key, _MISSING), value)]
        if changed:
            self.seen.append(f"{', '.join(changed[:5])} changed while the test ran")
            raise GradingIntegrityError("the tested code changed the interpreter while the test ran: "
                                        + "; ".join(dict.fromkeys(self.seen)))

    def run_test(self, source):
        """Run a test cell's code in a namespace of its own (see the module docstring); fail it
        if the audit hook saw the interpreter change while it ran."""
        user_ns = self.shell.user_ns
        before = dict(user_ns)
        namespace = {**before, "__builtins__": self.private["builtins"]}
        for name, value in self.trusted_names.items():  # set-up functions read this namespace too
            namespace[name] = self.private.get(id(value)) or _rebound(value, user_ns, namespace)
        code = compile(self.shell.transform_cell(source), "<test cell>", "exec")
        self.seen = []
        self.watching = True
        try:
            exec(code, namespace)
        finally:
            self.watching = False
            for name, value in namespace.items():  # names the test defined stay defined
                kept = name in self.trusted_names or name == "__builtins__"
                if not kept and before.get(name, _MISSING) is not value:
                    user_ns[name] = value
        if self.seen:
            raise GradingIntegrityError("the tested code changed the interpreter while the test ran: "
                                        + "; ".join(dict.fromkeys(self.seen)))

    def remember(self, names):
        """Keep the values that a locked set-up cell just gave these names."""
        user_ns = self.shell.user_ns
        self.trusted_names.update({name: user_ns[name] for name in names if name in user_ns})
        return "remembered"

    def restore(self, token):
        """Undo every change listed in the module docstring; return what was undone, as JSON."""
        undone = []
        shell = self.shell
        for name, value in self.instance_attributes.items():
            if vars(shell).get(name, _MISSING) is not value:
                undone.append(f"shell.{name} replaced")
                if value is _MISSING:
                    del shell.__dict__[name]
                else:
                    shell.__dict__[name] = value
        for cls, saved in self.classes:
            for key in list(vars(cls)):
                if key not in saved and key.startswith("__"):
                    undone.append(f"{cls.__name__}.{key} added")
                    delattr(cls, key)
            for key, value in saved.items():
                new = vars(cls).get(key, _MISSING)
                if _library_wrapper(new, value):
                    saved[key] = new
                elif new is not value and not key.startswith("__dict"):
                    try:
                        setattr(cls, key, value)
                        undone.append(f"{cls.__name__}.{key} changed")
                    except (AttributeError, TypeError):
                        pass
        for name, value in self.shell_state.items():
            changed = getattr(shell, name) != value if isinstance(value, list) else getattr(shell, name) is not value
            if changed:
                undone.append(f"shell.{name} changed")
                setattr(shell, name, list(value) if isinstance(value, list) else value)
        manager = shell.input_transformer_manager
        for name, value in self.manager_lists.items():
            if getattr(manager, name) != value:
                undone.append(f"input transformer ({name}) added")
                setattr(manager, name, list(value))
        shell.compile.flags = self.compile_flags
        for event, callbacks in self.callbacks.items():
            if shell.events.callbacks.get(event) != callbacks:
                undone.append(f"{event} event callback")
                shell.events.callbacks[event] = list(callbacks)
        for name, value in self.sys_state.items():
            if getattr(sys, name) is not value:
                undone.append(f"sys.{name} replaced")
                setattr(sys, name, value)
        if sys.gettrace() or sys.getprofile():
            undone.append("trace or profile function")
            sys.settrace(None)
            sys.setprofile(None)
        for name, (module, saved) in self.modules.items():
            if sys.modules.get(name) is not module:
                undone.append(f"sys.modules[{name!r}] replaced")
                sys.modules[name] = module
            current = vars(module)
            for key, value in saved.items():
                new = current.get(key, _MISSING)
                if new is value:
                    continue
                if _library_wrapper(new, value):
                    saved[key] = new
                else:
                    undone.append(f"{name}.{key} changed")
                    current[key] = value
        for function, code, defaults, kwdefaults in self.functions:
            if function.__code__ is not code or function.__defaults__ is not defaults:
                undone.append(f"{function.__qualname__} rewritten")
                function.__code__, function.__defaults__, function.__kwdefaults__ = code, defaults, kwdefaults
        user_ns = shell.user_ns
        for name, value in self.trusted_names.items():
            if user_ns.get(name, _MISSING) is not value:
                undone.append(f"name {name!r} rebound")
                user_ns[name] = value
        undone += self.seen
        self.seen = []
        stopped, running = self._stop_threads()
        if stopped:
            undone.append(f"{stopped} background thread(s) stopped")
        return json.dumps({"token": token, "undone": sorted(set(undone)), "threads_running": running})

    def _stop_threads(self):
        """Raise SystemExit in every thread the submission started; wait for them to end. (Threads
        running library code are left alone; if one keeps patching, the check after the test sees it.)"""
        import ctypes

        foreign = [t for t in threading.enumerate()
                   if t.ident not in self.threads and t.is_alive() and not _library_thread(t)]
        for thread in foreign:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit))
        for thread in foreign:
            thread.join(timeout=1)
        return len(foreign), sum(t.is_alive() for t in foreign)


_MISSING = object()


def _checked(function, check):
    def checked(*args, **kwargs):
        check()
        return function(*args, **kwargs)

    checked.__name__, checked.__doc__, checked.__wrapped__ = function.__name__, function.__doc__, function
    return checked


def _rebound(value, old_globals, new_globals):
    """A function of a set-up cell, reading ``new_globals`` instead; other values unchanged."""
    if not isinstance(value, types.FunctionType) or value.__globals__ is not old_globals:
        return value
    function = types.FunctionType(value.__code__, new_globals, value.__name__, value.__defaults__, value.__closure__)
    function.__kwdefaults__ = value.__kwdefaults__
    return function


def _private_copies(modules, before_each_check):
    """Copies the tested code cannot reach, by ``id`` of the original: for each protected module
    a module object holding its attributes as they were (protected submodules as copies too),
    for each function of ``utils.testing`` a function that reads those copies (and calls
    ``before_each_check()`` first), and under "builtins" the builtins as a dictionary whose
    ``__import__`` hands out the copies."""
    copies = {}
    for name, (module, saved) in modules.items():
        copy = types.ModuleType(name, module.__doc__)
        copy.__dict__.update(saved)
        copies[id(module)] = copy
    builtins = dict(modules["builtins"][1])
    real_import = builtins["__import__"]

    def private_import(name, globals=None, locals=None, fromlist=(), level=0):
        module = real_import(name, globals, locals, fromlist, level)
        return copies.get(id(module), module)

    builtins["__import__"] = private_import
    for module, saved in modules.values():
        copy = copies[id(module)]
        for key, value in saved.items():
            if id(value) in copies:
                setattr(copy, key, copies[id(value)])
    if "utils.testing" in modules:
        module, saved = modules["utils.testing"]
        namespace = {**{k: copies.get(id(v), v) for k, v in saved.items()}, "__builtins__": builtins}
        for key, value in saved.items():
            if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
                function = types.FunctionType(value.__code__, namespace, value.__name__, value.__defaults__,
                                              value.__closure__)
                function.__kwdefaults__ = value.__kwdefaults__
                namespace[key] = copies[id(value)] = _checked(function, before_each_check)
    copies["builtins"] = builtins
    return copies
LIBRARY_PATHS = tuple({sysconfig.get_paths()[kind] for kind in ("stdlib", "purelib", "platlib")})


def _library_thread(thread) -> bool:
    """Whether a thread runs library code (ipykernel's, tqdm's), not code of the submission."""
    run = getattr(thread, "_target", None) or type(thread).run
    code = getattr(run, "__code__", None)
    return code is None or code.co_filename.startswith(LIBRARY_PATHS)


def _library_wrapper(new, old) -> bool:
    """Whether ``new`` is a library's own wrapper of ``old`` (as ``torch._dynamo`` wraps
    ``torch.manual_seed`` when first imported): a change to keep, not to undo."""
    code = getattr(new, "__code__", None)
    return (new is not _MISSING and getattr(new, "__wrapped__", None) is old and code is not None
            and code.co_filename.startswith(LIBRARY_PATHS))


def install():
    """Create the guard in this kernel, under a module name the grader asks for."""
    from IPython import get_ipython

    module = types.ModuleType("_course_guard")
    module.guard = Guard(get_ipython())
    sys.modules["_course_guard"] = module
    return "installed"
