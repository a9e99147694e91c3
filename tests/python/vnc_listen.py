#!/usr/bin/env python3
"""A listening VNC client built on vncdotool: waits for ONE reverse
connection (a VNC server that connects out, such as Remoto in clear mode),
runs vncdotool's RFB client on the accepted socket asking for one encoding,
then plays a small script.

    vnc_listen.py --port P --encoding zrle --timeout 30 -- STEP...

Steps:
    expect FILE      wait until the framebuffer equals FILE pixel for pixel
                     (size included); on timeout the framebuffer is saved as
                     FILE.actual.png and the helper exits with status 3
    capture FILE     save the framebuffer now
    move X Y         send a pointer move
    key KEY          send a key press and release (vncdotool key names)
    cursor FILE N    wait until N different cursor shapes arrived (a shape
                     sent again is not counted), save the last as
                     FILE (RGB) and FILE.mask.png (1-bit)
    say TEXT         print TEXT on its own stdout line (for the test)

Prints "listening PORT" once it listens, "connected NAME WxH" once the
RFB handshake is done; exits 0 after the last step (closing the
connection), 2 on a protocol error or lost connection, 3 on a timeout.
Tests only: it listens on 127.0.0.1.
"""

import argparse
import sys

from PIL import Image, ImageChops
from twisted.internet import protocol, reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from vncdotool import rfb
from vncdotool.client import VNCDoToolClient, VNCDoToolFactory

ENCODINGS = {
    "raw": rfb.Encoding.RAW,
    "copyrect": rfb.Encoding.COPY_RECTANGLE,
    "rre": rfb.Encoding.RRE,
    "corre": rfb.Encoding.CORRE,
    "hextile": rfb.Encoding.HEXTILE,
    "zrle": rfb.Encoding.ZRLE,
}

STATUS = {"code": None}


def say(*words):
    print(*words, flush=True)


def finish(code, why=None):
    if STATUS["code"] is not None:
        return
    STATUS["code"] = code
    if why:
        print(why, file=sys.stderr, flush=True)
    reactor.callLater(0.1, reactor.stop)


class Client(VNCDoToolClient):
    """vncdotool's client, counting the cursor shapes it receives."""

    cursors = 0
    cursor_waiters = []

    def updateCursor(self, x, y, width, height, image, mask):
        super().updateCursor(x, y, width, height, image, mask)
        shape = (width, height, bytes(image), bytes(mask))
        # Count shapes, not messages: a server may send the same one again.
        if shape == getattr(self, "cursor_image", None):
            return
        self.cursors += 1
        self.cursor_image = shape
        waiters, self.cursor_waiters = self.cursor_waiters, []
        for d in waiters:
            d.callback(self)


class Factory(VNCDoToolFactory, protocol.ServerFactory):
    protocol = Client
    nocursor = True  # ask for the cursor pseudo-encoding; never draw it in
    pseudodesktop = True

    def __init__(self, encoding):
        super().__init__()
        self.encoding = encoding
        self.port = None

    def buildProtocol(self, addr):
        if self.port is not None:
            self.port.stopListening()
        p = Client()
        p.factory = self
        p.encoding = self.encoding
        return p

    def clientConnectionLost(self, connector, reason):
        finish(2, f"connection lost: {reason.getErrorMessage()}")

    def clientConnectionFailed(self, connector, reason):
        finish(2, f"protocol error: {reason.getErrorMessage()}")


def same(screen, expected):
    if screen is None or screen.size != expected.size:
        return False
    return ImageChops.difference(screen.convert("RGB"), expected).getbbox() is None


@inlineCallbacks
def play(client, steps):
    say("connected", client.name.decode(errors="replace") if isinstance(client.name, bytes) else client.name,
        f"{client.width}x{client.height}")
    client.current_expect = None
    i = 0
    while i < len(steps):
        step = steps[i]
        if step == "expect":
            path = steps[i + 1]
            i += 2
            expected = Image.open(path).convert("RGB")
            client.current_expect = path
            incremental = False
            while not same(client.screen, expected):
                yield client.refreshScreen(incremental)
                incremental = True
            client.current_expect = None
        elif step == "capture":
            client.screen.save(steps[i + 1])
            i += 2
        elif step == "move":
            client.mouseMove(int(steps[i + 1]), int(steps[i + 2]))
            i += 3
        elif step == "key":
            client.keyPress(steps[i + 1])
            i += 2
        elif step == "cursor":
            path, n = steps[i + 1], int(steps[i + 2])
            i += 3
            while client.cursors < n:
                d = Deferred()
                client.cursor_waiters.append(d)
                # Keep updates flowing: cursor shapes ride on updates.
                client.framebufferUpdateRequest(incremental=True)
                yield d
            w, h, image, mask = client.cursor_image
            Image.frombytes("RGB", (w, h), image, "raw", client._image_mode).save(path)
            Image.frombytes("1", (w, h), mask).save(path + ".mask.png")
        elif step == "say":
            say(steps[i + 1])
            i += 2
        else:
            finish(2, f"unknown step {step!r}")
            return
    client.transport.loseConnection()
    finish(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--encoding", choices=sorted(ENCODINGS), required=True)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("steps", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    steps = [s for s in args.steps if s != "--"]

    factory = Factory(ENCODINGS[args.encoding])
    client_box = {}

    def connected(client):
        client_box["client"] = client
        d = play(client, steps)
        d.addErrback(lambda f: finish(2, f"step failed: {f.getErrorMessage()}"))

    factory.deferred.addCallback(connected)

    def timeout():
        client = client_box.get("client")
        if client is not None and client.screen is not None:
            name = getattr(client, "current_expect", None) or "timeout"
            client.screen.save(name + ".actual.png")
        finish(3, f"timed out after {args.timeout} s")

    reactor.callLater(args.timeout, timeout)
    factory.port = reactor.listenTCP(args.port, factory, interface="127.0.0.1")
    say("listening", factory.port.getHost().port)
    reactor.run()
    sys.exit(STATUS["code"] if STATUS["code"] is not None else 2)


if __name__ == "__main__":
    main()
