"""A static scan of submitted code for what touches the interpreter rather than solving the task.

Nothing here changes a grade: the findings go into the review report for the instructor, who
reads the flagged answers. The scan reads the student's own (unlocked) code cells, with
IPython's ``!`` and ``%`` syntax turned into the Python it stands for.
"""
import ast

from IPython.core.inputtransformer2 import TransformerManager

# Names whose mere use in an answer deserves a look, and why.
SUSPICIOUS_NAMES = {
    "get_ipython": "uses the IPython shell", "ast_transformers": "adds an AST transformer",
    "input_transformers_post": "adds an input transformer", "input_transformer_manager": "adds an input transformer",
    "set_custom_exc": "installs an exception handler", "showtraceback": "replaces the traceback display",
    "run_cell": "replaces how cells run", "events": "registers IPython event callbacks",
    "__torch_function__": "defines __torch_function__", "__array_ufunc__": "defines __array_ufunc__",
    "__eq__": "overrides ==", "__ne__": "overrides !=", "__bool__": "overrides truth testing",
    "__class__": "changes or fakes a class", "__code__": "rewrites a function's code",
    "__builtins__": "touches the builtins", "builtins": "touches the builtins", "modules": "touches sys.modules",
    "_exit": "calls os._exit", "system": "runs a shell command", "popen": "runs a shell command",
    "fork": "forks the process", "kill": "sends signals", "subprocess": "starts processes",
    "multiprocessing": "starts processes", "ctypes": "uses ctypes", "cffi": "uses cffi",
    "importlib": "imports dynamically", "__import__": "imports dynamically", "settrace": "sets a trace function",
    "setprofile": "sets a profile function", "threading": "starts threads", "_thread": "starts threads",
    "signal": "handles signals", "socket": "opens network sockets", "gc": "walks the garbage collector",
    "inspect": "inspects frames", "_getframe": "inspects frames", "f_back": "inspects the caller's frame",
    "exec": "executes generated code", "eval": "evaluates generated code", "compile": "compiles generated code",
    "setattr": "sets attributes by name", "excepthook": "replaces sys.excepthook",
    "linecache": "reads the cached source of cells", "globals": "changes global names by dictionary",
    "displayhook": "replaces sys.displayhook", "atexit": "registers exit handlers",
    # PyTorch's mode stacks: the tests' forbid() is a function and a dispatch mode
    "DisableTorchFunction": "switches off PyTorch's function modes", "_pop_mode": "pops a PyTorch mode",
    "_pop_torch_function_stack": "pops a PyTorch function mode", "_pop_torch_dispatch_stack": "pops a PyTorch dispatch mode",
    "_pop_mode_temporarily": "pops a PyTorch mode", "_disable_current_modes": "switches off PyTorch's modes",
    "_set_torch_function_mode": "replaces PyTorch's function mode", "_unset_dispatch_mode": "switches off a dispatch mode",
    "_disable_dynamo": "switches off TorchDynamo", "_execution_engine": "runs the autograd engine directly",
}
# Modules whose attributes an answer should never assign.
PATCHABLE_MODULES = {"torch", "nn", "F", "np", "numpy", "math", "builtins", "sys", "os", "utils", "testing",
                     "assert_tensor_close", "assert_raises"}


def scan_source(source: str) -> list[str]:
    """What in this cell's code deserves the instructor's review (one line per kind)."""
    try:  # IPython's transformers give up (RuntimeError) on a cell of more than 500 `!` lines
        tree = ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, RuntimeError, RecursionError, MemoryError) as error:
        return [f"does not parse ({type(error).__name__}), so it was not scanned"]
    findings = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [part for alias in node.names for part in alias.name.split(".")]
            names += (node.module or "").split(".") if isinstance(node, ast.ImportFrom) else []
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                root = target
                while isinstance(root, (ast.Attribute, ast.Subscript)):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in PATCHABLE_MODULES and root is not target:
                    findings.append(f"assigns into {ast.unparse(target)} (monkeypatching)")
                elif isinstance(target, ast.Name) and target.id in PATCHABLE_MODULES:
                    findings.append(f"rebinds {target.id}")
        findings += [SUSPICIOUS_NAMES[n] for n in names if n in SUSPICIOUS_NAMES]
    return list(dict.fromkeys(findings))


def scan_notebook(nb) -> list[str]:
    """Findings for every unlocked code cell, each prefixed by the cell it is in."""
    findings = []
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("locked") or meta.get("grade"):
            continue
        where = meta.get("grade_id") or f"cell {index}"
        findings += [f"{where}: {finding}" for finding in scan_source(cell.source)]
    return findings
