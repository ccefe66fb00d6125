/*
 * A peer on the reference Java OOCSI client for test_interop_groups: it runs
 * the Java client's group behaviours (OOCSIGather, OOCSIConsensus, OOCSISync,
 * OOCSISpread) on commands, so the C behaviours can join the same groups.
 * Compiled by the test at run time with PeerBase.java against oocsi-client.jar:
 *
 *   java -cp oocsi-client.jar:CLASSES GroupPeer PORT HANDLE PREFIX
 *
 * Commands arrive as messages on PREFIX_in ({"cmd": name, ...}) and run on
 * the main thread; it prints one JSON object a line: "ready", one line per
 * command done, and the behaviours' callbacks ("gather_end", "cons_end",
 * "pulse", "spread_done").
 */
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

import nl.tue.id.oocsi.OOCSIEvent;
import nl.tue.id.oocsi.client.OOCSIClient;
import nl.tue.id.oocsi.client.behavior.OOCSIConsensus;
import nl.tue.id.oocsi.client.behavior.OOCSIGather;
import nl.tue.id.oocsi.client.behavior.OOCSISpread;
import nl.tue.id.oocsi.client.behavior.OOCSISync;
import nl.tue.id.oocsi.client.protocol.Handler;

public class GroupPeer extends PeerBase {
    /* A behaviour callback that prints one event line (with more keys from extra). */
    private static Handler announce(final String name, final Consumer<Map<String, Object>> extra) {
        return new Handler() {
            public void receive(String sender, Map<String, Object> data, long timestamp, String channel,
                                String recipient) {
                Map<String, Object> ev = event(name);
                if (extra != null)
                    extra.accept(ev);
                emit(ev);
            }
        };
    }
    private static OOCSIGather<Object> gather;
    @SuppressWarnings("rawtypes")
    private static OOCSIConsensus consensus;
    private static volatile OOCSISync sync;
    private static OOCSISpread spread;

    @SuppressWarnings({"unchecked", "rawtypes"})
    public static void main(String[] args) throws Exception {
        OOCSIClient client = connect(args);
        String prefix = args[2];
        commands(prefix + "_in", null);
        ready();
        for (;;) {
            OOCSIEvent cmd = nextCommand();
            String name = cmd.getString("cmd", "");
            String channel = cmd.getString("channel", prefix);
            String key = cmd.getString("key", "k");
            int ms = cmd.getInt("ms", 300);
            Map<String, Object> done = event(name);
            if (name.equals("gather_new")) {
                gather = new OOCSIGather<Object>(client, channel, key, ms, announce("gather_end", null));
            } else if (name.equals("gather_set")) {
                gather.set(cmd.getObject("value"));
            } else if (name.equals("gather_get")) {
                Map<String, Object> h = new LinkedHashMap<>();
                for (Map.Entry<Object, Integer> e : gather.get().entrySet())
                    h.put(String.valueOf(e.getKey()), e.getValue());
                done.put("histogram", h);
            } else if (name.equals("cons_new")) {
                String form = cmd.getString("form", "string");
                Handler end = announce("cons_end", null);
                if (form.equals("string"))
                    consensus = OOCSIConsensus.createStringConsensus(client, channel, key, ms, end);
                else if (form.equals("bool"))
                    consensus = OOCSIConsensus.createBooleanConsensus(client, channel, key, ms, end);
                else
                    consensus = OOCSIConsensus.createFloatAvgConsensus(client, channel, key, ms, end);
            } else if (name.equals("cons_set")) {
                Object v = cmd.getObject("value");
                if (v instanceof Number)
                    v = Float.valueOf(((Number) v).floatValue()); // the float form's type
                consensus.set(v);
            } else if (name.equals("cons_get")) {
                Object v = ((OOCSIConsensus) consensus).get();
                done.put("value", v);
            } else if (name.equals("sync_new")) {
                sync = new OOCSISync(client, channel, ms, announce("pulse", ev -> {
                    OOCSISync s = sync; // null during the constructor's first steps
                    ev.put("cycle", s == null ? -1 : s.getCycle());
                    ev.put("synced", s != null && s.isSynced());
                }));
            } else if (name.equals("sync_stop")) {
                sync.stop();
            } else if (name.equals("spread_new")) {
                spread = new OOCSISpread(client, channel, key, ms, null);
            } else if (name.equals("spread_get")) {
                done.put("role", spread.get());
                done.put("done", spread.isDone());
            } else if (name.equals("quit")) {
                break;
            }
            emit(done);
        }
        quit();
    }

}
