/*
 * Output formatting and message data: DATA arguments (JSON or key=value) into
 * JSON objects, messages out as JSON lines or --pretty lines, notes on stderr.
 */
#include "cli.h"

/* -------------------------------------------------------------- DATA */

/* 1 if s is exactly a JSON number. */
static int is_json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* The value of key=value with its type inferred. */
static cJSON *infer_value(const char *v)
{
    if (strcmp(v, "true") == 0)
        return cJSON_CreateTrue();
    if (strcmp(v, "false") == 0)
        return cJSON_CreateFalse();
    if (strcmp(v, "null") == 0)
        return cJSON_CreateNull();
    if (is_json_number(v)) {
        double d = strtod(v, NULL);
        /* Out of double range (1e999) or an integer a double cannot hold
         * exactly: keep the text rather than change the number. */
        int integral = strchr(v, '.') == NULL && strchr(v, 'e') == NULL && strchr(v, 'E') == NULL;
        if (d > -1.7e308 && d < 1.7e308 && (!integral || (d > -9007199254740992.0 && d < 9007199254740992.0)))
            return cJSON_CreateNumber(d);
    }
    return cJSON_CreateString(v);
}

cJSON *parse_json(const char *text)
{
    return cJSON_ParseWithOpts(text, NULL, 1);
}

/* Builds the data object from DATA arguments. NULL after a usage error
 * (printed; *rc set). No arguments: an empty object. */
cJSON *build_data(const cli *a, char **args, int n, int *rc)
{
    *rc = EXIT_OK;
    if (n == 1 && args[0][strspn(args[0], " \t\r\n")] == '{') {
        cJSON *j = parse_json(args[0]);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            *rc = usage_error(a, "DATA is not a valid JSON object: %s", args[0]);
            return NULL;
        }
        return j;
    }
    cJSON *obj = cJSON_CreateObject();
    if (obj == NULL) {
        fprintf(stderr, "oocsi: out of memory\n");
        *rc = EXIT_RUNTIME;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const char *arg = args[i];
        const char *eq = strchr(arg, '=');
        if (arg[strspn(arg, " \t\r\n")] == '{') {
            *rc = usage_error(a, "a JSON object must be the only DATA argument: %s", arg);
            goto fail;
        }
        if (eq == NULL) {
            *rc = usage_error(a, "DATA must be a JSON object or key=value pairs, not '%s'", arg);
            goto fail;
        }
        int raw = eq > arg && eq[-1] == ':';
        size_t keylen = (size_t)(eq - arg) - (raw ? 1 : 0);
        if (keylen == 0) {
            *rc = usage_error(a, "empty key in '%s'", arg);
            goto fail;
        }
        char *key = malloc(keylen + 1);
        if (key == NULL) {
            fprintf(stderr, "oocsi: out of memory\n");
            *rc = EXIT_RUNTIME;
            goto fail;
        }
        memcpy(key, arg, keylen);
        key[keylen] = '\0';
        cJSON *value = raw ? parse_json(eq + 1) : infer_value(eq + 1);
        if (value == NULL) {
            if (raw)
                *rc = usage_error(a, "not valid JSON after '%s:=': %s", key, eq + 1);
            else {
                fprintf(stderr, "oocsi: out of memory\n");
                *rc = EXIT_RUNTIME;
            }
            free(key);
            goto fail;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key); /* the last one wins */
        cJSON_AddItemToObject(obj, key, value);
        free(key);
    }
    return obj;
fail:
    cJSON_Delete(obj);
    return NULL;
}

/* ------------------------------------------------------------ output */

void note(const cli *a, const char *fmt, ...)
{
    if (a->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("oocsi: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void format_time(int64_t ms, char *buf, size_t size)
{
    if (ms <= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char hms[16] = "--:--:--";
    if (localtime_r(&secs, &tm) != NULL)
        strftime(hms, sizeof hms, "%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03d", hms, (int)(ms % 1000));
}

void print_for_terminal(FILE *f, const char *text, size_t n)
{
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f) {
            fprintf(f, "\\x%02x", p[i]);
        } else if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
            fprintf(f, "\\u%04x", p[i + 1]);
            i++;
        } else {
            fputc(p[i], f);
        }
    }
}

static void print_field(const char *text)
{
    print_for_terminal(stdout, text, strlen(text));
}

/* Prints one message line; response (respond only) may be NULL. */
void print_message(session *s, const oocsi_message *m, const cJSON *response)
{
    /* the payload's text, numbers exactly as the sender wrote them */
    char *d = oocsi_message_data_json(m);
    if (s->args->pretty) {
        char when[32];
        format_time(oocsi_message_timestamp(m), when, sizeof when);
        char *r = response ? cJSON_PrintUnformatted(response) : NULL;
        printf("%s  ", when);
        print_field(oocsi_message_sender(m));
        fputs(" -> ", stdout);
        print_field(oocsi_message_recipient(m));
        fputs("  ", stdout);
        print_field(d ? d : "{}");
        if (r) {
            fputs("  => ", stdout);
            print_field(r);
        }
        fputc('\n', stdout);
        cJSON_free(r);
    } else {
        cJSON *line = cJSON_CreateObject();
        if (line != NULL) {
            cJSON_AddNumberToObject(line, "timestamp", (double)oocsi_message_timestamp(m));
            cJSON_AddStringToObject(line, "sender", oocsi_message_sender(m));
            cJSON_AddStringToObject(line, "recipient", oocsi_message_recipient(m));
            cJSON_AddRawToObject(line, "data", d ? d : "{}");
            if (response)
                cJSON_AddItemToObject(line, "response", cJSON_Duplicate(response, 1));
        }
        char *text = line ? cJSON_PrintUnformatted(line) : NULL;
        if (text == NULL)
            fprintf(stderr, "oocsi: out of memory printing a message\n");
        else
            printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(line);
    }
    oocsi_free(d);
    if ((fflush(stdout) != 0 || ferror(stdout)) && s->write_failed == 0)
        s->write_failed = errno ? errno : EIO;
}
