/*
 * What the Java peers of the interop tests (InteropPeer, GroupPeer,
 * SpatialAwarenessPeer) share: the connection to the server on loopback,
 * the queue of commands that arrive on the input channel, the "ready" line
 * once the subscriptions are in place, and one JSON object a line on stdout.
 * Each peer extends it and is compiled together with it by the C test.
 *
 * A peer's main: connect(args), its own subscriptions (commands(...) for
 * PREFIX_in), ready(), then nextCommand() in a loop until "quit".
 */
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import nl.tue.id.oocsi.OOCSIEvent;
import nl.tue.id.oocsi.client.OOCSIClient;
import nl.tue.id.oocsi.client.protocol.EventHandler;

class PeerBase {
    private static final BlockingQueue<OOCSIEvent> commands = new LinkedBlockingQueue<>();
    private static final CountDownLatch barrier = new CountDownLatch(1);
    private static OOCSIClient client;
    private static String handle;

    /* Connects as args[1] to 127.0.0.1:args[0] (exits with 2 when it cannot)
     * and listens for its own barrier message (see ready()). */
    static OOCSIClient connect(String[] args) {
        int port = Integer.parseInt(args[0]);
        handle = args[1];
        client = new OOCSIClient(handle);
        if (!client.connect("127.0.0.1", port)) {
            System.err.println("could not connect");
            System.exit(2);
        }
        client.subscribe(handle, new EventHandler() {
            public void receive(OOCSIEvent e) {
                if (handle.equals(e.getString("barrier")))
                    barrier.countDown();
            }
        });
        return client;
    }

    /* Subscribes to channel: each message goes to first (when not null),
     * then into the command queue when it has "cmd". */
    static void commands(String channel, final EventHandler first) {
        client.subscribe(channel, new EventHandler() {
            public void receive(OOCSIEvent e) {
                if (first != null)
                    first.receive(e);
                if (e.has("cmd"))
                    commands.add(e);
            }
        });
    }

    /* Prints {"event": "ready", "handle": HANDLE} once the subscriptions made
     * so far are in place: one connection's lines are handled in order, so
     * once a message to ourselves is back, they are (exits with 3 when it
     * does not come back). */
    static void ready() throws InterruptedException {
        client.send(handle, map("barrier", handle));
        if (!barrier.await(30, TimeUnit.SECONDS)) {
            System.err.println("the barrier message did not come back");
            System.exit(3);
        }
        Map<String, Object> ready = event("ready");
        ready.put("handle", handle);
        emit(ready);
    }

    /* The next command (exits with 4 when none comes for 120 s). */
    static OOCSIEvent nextCommand() throws InterruptedException {
        OOCSIEvent cmd = commands.poll(120, TimeUnit.SECONDS);
        if (cmd == null) {
            System.err.println("no command for 120 s");
            System.exit(4);
        }
        return cmd;
    }

    /* Disconnects and exits with 0 (the "quit" command). */
    static void quit() {
        client.disconnect();
        System.exit(0);
    }

    static Map<String, Object> map(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(key, value);
        return m;
    }

    static Map<String, Object> event(String name) {
        return map("event", name);
    }

    /* The values of a message, by key. */
    static Map<String, Object> data(OOCSIEvent e) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (String k : e.keys())
            m.put(k, e.getObject(k));
        return m;
    }

    /* Prints ev as one JSON line (whole lines, from any thread). */
    static synchronized void emit(Map<String, Object> ev) {
        StringBuilder sb = new StringBuilder();
        json(sb, ev);
        System.out.println(sb);
        System.out.flush();
    }

    /* A small JSON writer: maps, lists and arrays, strings, numbers, booleans, null. */
    private static void json(StringBuilder sb, Object v) {
        if (v instanceof Map) {
            sb.append('{');
            Iterator<? extends Map.Entry<?, ?>> it = ((Map<?, ?>) v).entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<?, ?> e = it.next();
                json(sb, String.valueOf(e.getKey()));
                sb.append(':');
                json(sb, e.getValue());
                if (it.hasNext())
                    sb.append(',');
            }
            sb.append('}');
        } else if (v instanceof List || v instanceof Object[]) {
            List<?> l = v instanceof List ? (List<?>) v : java.util.Arrays.asList((Object[]) v);
            Object[] items = l.toArray();
            sb.append('[');
            for (int i = 0; i < items.length; i++) {
                if (i > 0)
                    sb.append(',');
                json(sb, items[i]);
            }
            sb.append(']');
        } else if (v instanceof String) {
            sb.append('"');
            for (char c : ((String) v).toCharArray()) {
                if (c == '"' || c == '\\')
                    sb.append('\\').append(c);
                else if (c < 0x20 || c > 0x7e)
                    sb.append(String.format("\\u%04x", (int) c));
                else
                    sb.append(c);
            }
            sb.append('"');
        } else if (v == null || v instanceof Number || v instanceof Boolean) {
            sb.append(String.valueOf(v));
        } else {
            json(sb, String.valueOf(v));
        }
    }
}
