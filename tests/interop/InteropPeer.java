/*
 * A peer on the reference Java OOCSI client, for test_interop_peer: the same
 * commands and output lines as peer.py (see there), with "java" for
 * "python". Compiled by the test at run time against oocsi-client.jar:
 *
 *   java -cp oocsi-client.jar:CLASSES InteropPeer PORT HANDLE PREFIX
 */
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import nl.tue.id.oocsi.OOCSIData;
import nl.tue.id.oocsi.OOCSIDouble;
import nl.tue.id.oocsi.OOCSIEvent;
import nl.tue.id.oocsi.client.OOCSIClient;
import nl.tue.id.oocsi.client.protocol.EventHandler;
import nl.tue.id.oocsi.client.services.OOCSICall;
import nl.tue.id.oocsi.client.services.Responder;

public class InteropPeer {
    private static final BlockingQueue<OOCSIEvent> commands = new LinkedBlockingQueue<>();

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String handle = args[1], prefix = args[2];
        OOCSIClient client = new OOCSIClient(handle);
        if (!client.connect("127.0.0.1", port)) {
            System.err.println("could not connect");
            System.exit(2);
        }
        CountDownLatch barrier = new CountDownLatch(1);
        client.subscribe(handle, new EventHandler() {
            public void receive(OOCSIEvent e) {
                if (handle.equals(e.getString("barrier")))
                    barrier.countDown();
            }
        });
        client.subscribe(prefix + "_in", new EventHandler() {
            public void receive(OOCSIEvent e) {
                Map<String, Object> ev = event("message");
                ev.put("sender", e.getSender());
                // the channel it came on (getRecipient() is this client's own handle)
                ev.put("recipient", e.getChannel());
                ev.put("data", data(e));
                emit(ev);
                if (e.has("cmd"))
                    commands.add(e);
            }
        });
        client.register(prefix + "_peer_calls", "add", new Responder(client) {
            public void respond(OOCSIEvent e, OOCSIData response) {
                response.data("sum", e.getDouble("a", 0) + e.getDouble("b", 0));
                response.data("by", "java");
            }
        });
        OOCSIDouble level = new OOCSIDouble(client, prefix + "_var", "level");
        // One connection's lines are handled in order: once this message to
        // ourselves is back, the subscriptions above are in place.
        client.send(handle, map("barrier", handle));
        if (!barrier.await(30, TimeUnit.SECONDS)) {
            System.err.println("the barrier message did not come back");
            System.exit(3);
        }
        Map<String, Object> ready = event("ready");
        ready.put("handle", handle);
        emit(ready);
        for (;;) {
            OOCSIEvent cmd = commands.poll(120, TimeUnit.SECONDS);
            if (cmd == null) {
                System.err.println("no command for 120 s");
                System.exit(4);
            }
            String name = cmd.getString("cmd", "");
            if (name.equals("send")) {
                Map<String, Object> m = map("from", "java");
                m.put("n", 7);
                m.put("ratio", 0.25);
                m.put("ok", true);
                m.put("text", "h\u00e9llo w\u00f6rld");
                client.send(prefix + "_out", m);
                emit(event("sent"));
            } else if (name.equals("call")) {
                OOCSICall call = new OOCSICall(client, prefix + "_c_calls", "mul", 10000, 1);
                call.data("x", cmd.getDouble("x", 0)).data("y", cmd.getDouble("y", 0)).sendAndWait();
                Map<String, Object> ev = event("response");
                ev.put("data", call.hasResponse() ? data(call.getFirstResponse()) : null);
                emit(ev);
            } else if (name.equals("var_set")) {
                level.set(cmd.getDouble("value", 0));
                Map<String, Object> ev = event("var_set");
                ev.put("value", cmd.getDouble("value", 0));
                emit(ev);
            } else if (name.equals("var_get")) {
                Map<String, Object> ev = event("variable");
                ev.put("value", level.get());
                emit(ev);
            } else if (name.equals("quit")) {
                break;
            }
        }
        client.disconnect();
        System.exit(0);
    }

    private static Map<String, Object> map(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(key, value);
        return m;
    }

    private static Map<String, Object> event(String name) {
        return map("event", name);
    }

    private static Map<String, Object> data(OOCSIEvent e) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (String k : e.keys())
            m.put(k, e.getObject(k));
        return m;
    }

    private static synchronized void emit(Map<String, Object> ev) {
        StringBuilder sb = new StringBuilder();
        json(sb, ev);
        System.out.println(sb);
        System.out.flush();
    }

    /* A small JSON writer: maps, lists, strings, numbers, booleans, null. */
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
            List<Object> items = new ArrayList<>(l);
            sb.append('[');
            for (int i = 0; i < items.size(); i++) {
                if (i > 0)
                    sb.append(',');
                json(sb, items.get(i));
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
