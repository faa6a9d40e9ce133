# SPDX-License-Identifier: GPL-3.0-or-later
"""Many clients that stop reading at once (PROTOCOL.md §8,
output_buffer_max). Dropping one announces it offline to the others,
which can drop them in turn while the server is still walking its list
of clients: the server must survive every such cascade (ASan checks the
walk) and keep serving."""

import json
import os
import sys
import time

sys.dont_write_bytecode = True
import harness  # noqa: E402

PW = "slow-reader-pw"
N_READERS = 40


class SlowReadersTest(harness.IntegrationTest):
    def start_with_users(self, names, config):
        srv = self.server({names[0]: PW}, config=config, start=False)
        # One hash for every account: useradd per user would hash 40 times.
        digest = srv.credentials()[names[0]]
        path = os.path.join(srv.dir, "credentials.json")
        with open(path + ".new", "w") as f:
            json.dump({n: digest for n in names}, f)
        os.replace(path + ".new", path)
        srv.start()
        return srv

    def test_cascade_of_slow_readers(self):
        names = ["r%02d" % i for i in range(N_READERS)] + ["watch"]
        srv = self.start_with_users(names, {"output_buffer_max": 1024,
                                            "max_frame": 1000})
        readers = []
        for n in names[:-1]:
            c = harness.RawClient(self.scope, srv, rcvbuf=1024, label=n)
            c.login(n, PW)
            readers.append(c)
        for c in readers:
            c.pause()
        # Each reader asks for the presence list over and over without
        # reading the answers: its output fills up and it is dropped; each
        # drop sends "offline" to all the others, which are near their
        # limit too.
        who = json.dumps({"type": "who"}, separators=(",", ":"))
        dropped = 0
        for _ in range(60):
            for c in readers:
                for _ in range(40):
                    c.send_text(who)
            time.sleep(0.05)
            dropped = srv.log().count("reason=outbuf-limit")
            self.assertTrue(srv.running(), "securechatd died:\n" + srv.log())
            if dropped >= N_READERS:
                break
        self.assertTrue(srv.running(), "securechatd died:\n" + srv.log())
        # Still serving.
        w = harness.RawClient(self.scope, srv, label="watch")
        w.login("watch", PW)
        w.ping()
        self.assertGreater(dropped, 1, "no reader was ever dropped")
        srv.stop()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_review_slow_readers.py SC_RAWCLIENT "
                 "[unittest args]")
    harness.RAWCLIENT = sys.argv.pop(1)
    harness.main()
