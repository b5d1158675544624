"""Run ImageJ macros so that an error never blocks: errors come back as MacroError with their text."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from fiji_bridge.errors import FijiBridgeError

_POLL_S = 0.05
log = logging.getLogger("fiji_bridge.macro")


class MacroError(FijiBridgeError):
    """An ImageJ macro failed; the message is ImageJ's error text."""


def _java(name: str) -> Any:
    from jpype import JClass

    return JClass(name)


def dialog_text(dialog: Any) -> str:
    """Title and visible text (labels, ImageJ's MultiLineLabel, text areas) of an AWT dialog."""
    Label, TextComponent, Container = (_java(n) for n in ("java.awt.Label", "java.awt.TextComponent",
                                                          "java.awt.Container"))
    parts: list[str] = []

    def walk(component: Any) -> None:
        if isinstance(component, Label) or isinstance(component, TextComponent):
            parts.append(str(component.getText()))
        elif component.getClass().getName() == "ij.gui.MultiLineLabel":
            field = component.getClass().getDeclaredField("lines")
            field.setAccessible(True)
            parts.extend(str(line) for line in (field.get(component) or []) if line is not None)
        if isinstance(component, Container):
            for child in component.getComponents():
                walk(child)

    walk(dialog)
    text = " ".join(" ".join(p.split()) for p in parts if p.strip())
    title = str(dialog.getTitle() or "")
    return f"{title}: {text}" if title and text else title or text


def _secondary_loop_field():
    """java.awt.Dialog's private `secondaryLoop` (readable with --add-opens java.desktop/java.awt), or None."""
    try:
        field = _java("java.awt.Dialog").class_.getDeclaredField("secondaryLoop")
        field.setAccessible(True)
        return field
    except Exception:  # not opened to us: the guard then relies on the delay before closing
        return None


_SECONDARY_LOOP = None


class DialogGuard:
    """While active, closes every blocking dialog that opens (as Cancel would) and keeps its text.

    ``on_input`` is called before an input dialog (a GenericDialog asking for a command's options)
    is closed: nobody answered it, so the macro that opened it should stop there.
    """

    def __init__(self, on_poll: Callable[[], None] | None = None, on_input: Callable[[], None] | None = None):
        self.messages: list[str] = []
        self._on_poll = on_poll
        self._on_input = on_input
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="fiji_bridge-dialog-guard", daemon=True)
        self._before: set[int] = set()
        self._handled: dict[int, object] = {}

    def _showing_dialogs(self):
        """Dialogs that block a macro: modal ones, and ImageJ's waitForUser dialog."""
        Window, Dialog = _java("java.awt.Window"), _java("java.awt.Dialog")
        WaitForUser = _java("ij.gui.WaitForUserDialog")
        return [w for w in Window.getWindows()
                if isinstance(w, Dialog) and w.isShowing() and (w.isModal() or isinstance(w, WaitForUser))]

    def _close(self, dialog) -> None:
        """Cancel `dialog` the ways ImageJ dialogs accept: window close, then Esc, then close()/dispose()."""
        WindowEvent, KeyEvent = _java("java.awt.event.WindowEvent"), _java("java.awt.event.KeyEvent")
        dialog.dispatchEvent(WindowEvent(dialog, WindowEvent.WINDOW_CLOSING))
        if dialog.isShowing():
            dialog.dispatchEvent(KeyEvent(dialog, KeyEvent.KEY_PRESSED, 0, 0, KeyEvent.VK_ESCAPE,
                                          KeyEvent.CHAR_UNDEFINED))
        if dialog.isShowing():
            closer = next((m for m in dialog.getClass().getMethods()
                           if m.getName() == "close" and m.getParameterCount() == 0), None)
            if closer is not None:
                closer.invoke(dialog)
            else:
                dialog.dispose()

    @staticmethod
    def _asks_for_input(dialog) -> bool:
        """True for a command's options dialog (a GenericDialog other than ImageJ's "Macro Error")."""
        return dialog.getClass().getName() == "ij.gui.GenericDialog" and dialog.getTitle() != "Macro Error"

    def _describe(self, dialog) -> str:
        """The dialog's text; for an input dialog, a hint that the macro gave no options for it."""
        if self._asks_for_input(dialog):
            return (f"the dialog '{dialog.getTitle()}' asked for input, so the macro stopped there "
                    f"(give the command its options in run(...), as the Recorder writes them)")
        return dialog_text(dialog)

    def _watch(self) -> None:
        identity = _java("java.lang.System").identityHashCode
        seen_once: set[int] = set()
        while not self._stop.wait(_POLL_S):
            try:
                if self._on_poll is not None:
                    self._on_poll()
                for dialog in self._showing_dialogs():
                    key = identity(dialog)
                    if key in self._before:
                        continue
                    if key not in seen_once:  # let show() reach its wait loop before cancelling
                        seen_once.add(key)
                        continue
                    self._close_or_dispose(dialog, first_time=key not in self._handled)
                    self._handled[key] = dialog
                self._release_stuck_loops()
            except Exception:  # the guard must outlive any odd window, or a dialog would block forever
                log.exception("dialog guard: unexpected error")

    def _release_stuck_loops(self) -> None:
        """End the wait loop of a closed dialog whose show() missed the close (an AWT race)."""
        from jpype import JObject

        if _SECONDARY_LOOP is None:
            return
        for dialog in self._handled.values():
            loop = _SECONDARY_LOOP.get(dialog) if not dialog.isShowing() else None
            if loop is not None:
                JObject(loop, "java.awt.SecondaryLoop").exit()

    def _close_or_dispose(self, dialog, first_time: bool) -> None:
        try:
            if first_time:
                self.messages.append(self._describe(dialog))
                if self._on_input is not None and self._asks_for_input(dialog):
                    self._on_input()  # before the close lets the macro go on
            self._close(dialog)
        except Exception:
            log.exception("dialog guard: could not cancel %s", dialog)
            dialog.dispose()

    def __enter__(self) -> "DialogGuard":
        global _SECONDARY_LOOP
        if not _java("java.awt.GraphicsEnvironment").isHeadless():
            _SECONDARY_LOOP = _SECONDARY_LOOP or _secondary_loop_field()
            identity = _java("java.lang.System").identityHashCode
            self._before = {identity(d) for d in self._showing_dialogs()}
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def _stop(interpreter) -> None:
    """End `interpreter` after its current command, quietly: the part of ImageJ's abortMacro (the
    Esc key) that ends one interpreter (Interpreter.shutdown), not the part that also stops every
    other macro thread after 2 s."""
    shutdown = interpreter.getClass().getDeclaredMethod("shutdown")
    shutdown.setAccessible(True)
    shutdown.invoke(interpreter)


def run_macro(code: str, arg: str = "", *, on_poll: Callable[[], None] | None = None) -> str:
    """Run macro `code` with `arg`; return its return value ("" if none) or raise MacroError.

    Dialogs that open meanwhile (error messages, exit("..."), unexpected option dialogs) are
    closed as if cancelled; their text becomes the error. A command's options dialog that nobody
    can answer also ends the macro there, so that nothing after it runs on wrong assumptions (in
    ImageJ 1.53t a macro goes on after a user cancels a command's dialog; here nobody did).
    `exit` without a message is no error.
    """
    from jpype import JException

    interpreter = _java("ij.macro.Interpreter")()
    failure = ""
    with DialogGuard(on_poll, on_input=lambda: _stop(interpreter)) as guard:
        try:
            result = interpreter.run(code, arg)
        except JException as exc:
            result = None
            message = str(exc.getMessage() or "")
            if exc.getClass().getName() == "java.awt.HeadlessException":
                failure = ("this needs a display, but Java runs headless here (menu commands, dialogs and "
                           "the ROI Manager need mode='interactive', which uses Xvfb when there is no screen)")
            elif message != "Macro canceled":
                failure = f"{exc.getClass().getSimpleName()}: {message}"
    texts = [m for m in guard.messages if m]
    details = [t.removeprefix("Macro Error: ") for t in texts if t.startswith("Macro Error: ")]
    others = [t for t in texts if not t.startswith("Macro Error: ")]
    error = interpreter.getErrorMessage()
    reasons = details or ([str(error)] if error is not None else [])
    reasons += others
    if failure and not reasons:  # an error message says more than the exception that ended the macro
        reasons.append(failure)
    if reasons:
        raise MacroError("Macro error: " + "; ".join(reasons))
    return "" if result is None else str(result)


class LogTail:
    """Passes new lines of ImageJ's Log window to `write` each time it is polled."""

    def __init__(self, write: Callable[[str], None]):
        self._write = write
        self._seen = 0
        self._lock = threading.Lock()

    def poll(self) -> None:
        with self._lock:
            text = str(_java("ij.IJ").getLog() or "")
            if len(text) < self._seen:  # the Log was cleared
                self._seen = 0
            if len(text) > self._seen:
                self._write(text[self._seen:] if text.endswith("\n") else text[self._seen:] + "\n")
                self._seen = len(text)
