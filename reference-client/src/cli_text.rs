//! Everything `jim-client`'s command line says, in English and Russian: the about lines, the
//! help of every option and the sections after them (what each command does, examples, exit
//! statuses), through `jim_text::cli`. What the commands print while they run is in the library
//! (`jim_client::error`, `jim_client::output`).

use jim_text::Lang;
use jim_text::cli::Node;

/// The help text of one place of the command line (see `jim_text::cli::localize`).
pub fn help(node: Node<'_>, lang: Lang) -> Option<String> {
    let text = match node {
        Node::About { command } => about(command, lang)?,
        Node::AfterHelp { command } => after_help(command, lang)?,
        Node::Arg { command, arg } => arg_help(command, arg, lang)?,
    };
    Some(text.to_owned())
}

fn about(command: &str, lang: Lang) -> Option<&'static str> {
    Some(match command {
        "" => lang.pick(
            "The reference JIM client: check a JIM (JSON Instant Messaging) server by hand.",
            "Эталонный клиент JIM: проверить сервер JIM (JSON Instant Messaging) вручную.",
        ),
        "ping" => lang.pick(
            "Send a presence, print the answer code (lesson 3).",
            "Отправить presence и показать код ответа (урок 3).",
        ),
        "chat" => lang.pick(
            "Interactive chat (or commands from a pipe).",
            "Интерактивный чат (или команды из конвейера).",
        ),
        "send" => lang.pick(
            "Send raw JSON or bytes and print what comes back, with timings.",
            "Отправить JSON или байты как есть и показать, что пришло в ответ, со временем.",
        ),
        "script" => lang.pick(
            "Run a JSON-lines script of sends and expectations (for CI).",
            "Выполнить сценарий JSON Lines из отправок и ожиданий (для CI).",
        ),
        "listen" => lang.pick(
            "Log in and print every message that arrives, as JSON lines.",
            "Войти и печатать каждое пришедшее сообщение строкой JSON.",
        ),
        _ => return None,
    })
}

fn arg_help(command: &str, arg: &str, lang: Lang) -> Option<&'static str> {
    Some(match (command, arg) {
        (_, "json") => lang.pick(
            "Machine-readable output on stdout: JSON objects, one per line (`--json` or \
             `--json -`; stdout is the only place it goes).",
            "Вывод для программ в stdout: объекты JSON, по одному в строке (`--json` или \
             `--json -`; другого места для него нет).",
        ),
        (_, "host") => lang.pick("Server host name or IP address.", "Имя или IP-адрес сервера."),
        (_, "port") => lang.pick("Server port.", "Порт сервера."),
        ("ping", "name") => lang.pick(
            "Account name (lesson-3 servers accept only Guest).",
            "Имя пользователя (серверы урока 3 принимают только Guest).",
        ),
        ("script", "name") => lang.pick(
            "The value of `$name` (lesson-3 servers accept only Guest).",
            "Значение `$name` (серверы урока 3 принимают только Guest).",
        ),
        ("script", "user") => {
            lang.pick("The value of `$account` (a registered account).", "Значение `$account` (зарегистрированная учётная запись).")
        }
        ("script", "password") => lang.pick("The value of `$password`.", "Значение `$password`."),
        ("script", "registered") => lang.pick(
            "`--user` is a registered account of a server that admits only its database's users: its presences carry a pubkey.",
            "`--user` — зарегистрированная учётная запись сервера, который пускает только пользователей своей базы: её presence несут pubkey.",
        ),
        ("script", "account") => lang.pick(
            "`$user:LABEL` (or `$user:LABEL:LEN`) logs in as the registered account NAME, whose course key (PBKDF2 of its password) answers its 511 challenge; repeatable.",
            "`$user:LABEL` (или `$user:LABEL:LEN`) входит как зарегистрированная учётная запись NAME, чей ключ курса (PBKDF2 от пароля) отвечает на её запрос 511; можно повторять.",
        ),
        ("script", "offline_user") => lang.pick(
            "The value of `$offline_account` (an account that exists but is not connected).",
            "Значение `$offline_account` (учётная запись, которая существует, но не подключена).",
        ),
        ("script", "turn") => lang.pick(
            "The server's loop turn in milliseconds: split pieces and trickled bytes are spaced to 1.5 times it, as `jim-conformance` spaces them against a slow server.",
            "Оборот цикла сервера в миллисекундах: части разделённых сообщений и отдельные байты пишутся с промежутком в 1,5 раза больше, как это делает `jim-conformance` против медленного сервера.",
        ),
        ("script", "delivery") => lang.pick(
            "How each message is written: whole, split (cut at a few byte positions, pieces apart) or trickle (one byte per write), as `jim-conformance --delivery`.",
            "Как пишется каждое сообщение: whole (целиком), split (разрезано в нескольких местах, части с паузами) или trickle (по одному байту за запись), как `jim-conformance --delivery`.",
        ),
        (_, "name") => lang.pick("Account name.", "Имя пользователя."),
        (_, "password") => lang.pick(
            "Password: spec dialect sends `authenticate` first; course dialect answers the 511.",
            "Пароль: диалект spec сначала отправляет `authenticate`, диалект course отвечает \
             на 511.",
        ),
        ("ping", "dialect") => lang.pick(
            "Presence shape: spec (with type and user.status) or course.",
            "Вид presence: spec (с type и user.status) или course.",
        ),
        (_, "dialect") => lang.pick(
            "Dialect to write: spec (msg, quit, ...) or course (message, exit, ...).",
            "Диалект: spec (msg, quit, ...) или course (message, exit, ...).",
        ),
        ("ping", "timeout") => lang.pick(
            "How long to wait for the connection and for the answer (3, 0.5, 500ms).",
            "Сколько ждать соединения и ответа (3, 0.5, 500ms).",
        ),
        ("send", "timeout") => lang
            .pick("Connect timeout (3, 0.5, 500ms).", "Сколько ждать соединения (3, 0.5, 500ms)."),
        ("script", "timeout") => lang.pick(
            "Default wait for each expectation, and the connect timeout.",
            "Ожидание по умолчанию для каждой проверки и для соединения.",
        ),
        (_, "timeout") => lang.pick(
            "How long to wait for each answer, and for the connection (5, 0.5, 500ms).",
            "Сколько ждать каждого ответа и соединения (5, 0.5, 500ms).",
        ),
        ("send", "args") => lang.pick(
            "[PORT] then the JSON messages, each sent as its own write.",
            "[PORT], затем сообщения JSON, каждое отдельной записью.",
        ),
        ("script", "args") => lang.pick(
            "[PORT] then FILE (a path, or - for stdin).",
            "[PORT], затем FILE (путь к файлу или - для stdin).",
        ),
        (_, "raw") => lang.pick(
            "Bytes to send verbatim (with escapes); repeatable, kept in command-line order.",
            "Байты, которые отправить как есть (с экранированием); можно повторять, порядок \
             как в командной строке.",
        ),
        (_, "split") => lang.pick(
            "Cut each message into writes of N bytes (20 ms apart unless --trickle).",
            "Резать каждое сообщение на записи по N байт (через 20 мс, если нет --trickle).",
        ),
        (_, "trickle") => lang.pick(
            "Write one byte (or --split N bytes) at a time, MS milliseconds apart.",
            "Писать по одному байту (или по --split N байт) через MS миллисекунд.",
        ),
        (_, "coalesce") => lang.pick(
            "Send all messages in a single write (what breaks most student servers).",
            "Отправить все сообщения одной записью (на этом ломается большинство \
             студенческих серверов).",
        ),
        (_, "wait") => lang.pick(
            "After the last write, read for MS milliseconds (or until the server closes).",
            "После последней записи читать MS миллисекунд (или пока сервер не закроет \
             соединение).",
        ),
        (_, "gap") => lang.pick(
            "Between messages, wait until something arrives, at most MS milliseconds.",
            "Между сообщениями ждать, пока что-нибудь придёт, не дольше MS миллисекунд.",
        ),
        (_, "framing") => lang.pick(
            "What follows each JSON message: newline or bare (nothing).",
            "Что идёт после каждого сообщения JSON: newline (перевод строки) или bare (ничего).",
        ),
        (_, "max_bytes") => lang
            .pick("Stop reading after this many bytes.", "Прекратить чтение после стольких байт."),
        (_, "join") => lang.pick(
            "Join this room after logging in (repeatable).",
            "Войти в эту комнату после входа (можно повторять).",
        ),
        (_, "count") => lang.pick("Stop after N messages.", "Остановиться после N сообщений."),
        (_, "duration") => lang.pick(
            "Stop after this long (10, 0.5, 500ms).",
            "Остановиться через это время (10, 0.5, 500ms).",
        ),
        _ => return None,
    })
}

fn after_help(command: &str, lang: Lang) -> Option<&'static str> {
    Some(match command {
        "" => lang.pick(TOP_EN, TOP_RU),
        "ping" => lang.pick(PING_EN, PING_RU),
        "chat" => lang.pick(CHAT_EN, CHAT_RU),
        "send" => lang.pick(SEND_EN, SEND_RU),
        "script" => lang.pick(SCRIPT_EN, SCRIPT_RU),
        "listen" => lang.pick(LISTEN_EN, LISTEN_RU),
        _ => return None,
    })
}

const TOP_EN: &str = "\
Examples:
  # lesson 3: presence as Guest -> \"200 OK (3 ms)\"
  jim-client ping 127.0.0.1 7777
  # interactive chat, /help inside
  jim-client chat 127.0.0.1 7777 --name Alice
  # one message as it is
  jim-client send 127.0.0.1 7777 '{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Guest\"}}'
  # scripted checks for CI
  jim-client script 127.0.0.1 7777 checks.jsonl
  # print every message as a JSON line
  jim-client listen 127.0.0.1 7777 --name Bob
  # shell completions, the man page
  jim-client --completions bash; jim-client --man

PORT defaults to 7777. Add --json (anywhere) for machine-readable output on stdout.

Exit status (every command):
  0  success (ping: a 2xx answer; script: every expectation held)
  1  the server answered, but not as hoped (another code, not JIM, a script mismatch)
  2  usage error (bad arguments, bad script)
  3  the server cannot be reached, closed without answering, or did not answer in time";

const TOP_RU: &str = "\
Примеры:
  # урок 3: presence от Guest -> \"200 OK (3 ms)\"
  jim-client ping 127.0.0.1 7777
  # интерактивный чат, внутри /help
  jim-client chat 127.0.0.1 7777 --name Alice
  # одно сообщение как есть
  jim-client send 127.0.0.1 7777 '{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Guest\"}}'
  # проверки по сценарию для CI
  jim-client script 127.0.0.1 7777 checks.jsonl
  # печатать каждое сообщение строкой JSON
  jim-client listen 127.0.0.1 7777 --name Bob
  # автодополнение для оболочки, страница man
  jim-client --completions bash; jim-client --man

Порт по умолчанию — 7777. С --json (в любом месте) вывод в stdout — для программ.

Код выхода (у всех команд):
  0  успех (ping: ответ 2xx; script: все ожидания выполнены)
  1  сервер ответил, но не так (другой код, не JIM, расхождение со сценарием)
  2  ошибка в аргументах или в сценарии
  3  сервер недоступен, закрыл соединение, не ответив, или не ответил вовремя";

const PING_EN: &str = "\
Sends one presence (one write), prints the answer and closes: the lesson-3 exchange.

Examples:
  # 200 OK (2 ms)
  jim-client ping localhost
  # lesson-3 servers accept only Guest
  jim-client ping 127.0.0.1 8888 --name Alice
  jim-client ping 127.0.0.1 7777 --dialect course --json

Exit status:
  0  a 2xx answer
  1  any other code, or a reply that is not a JIM response (plain text, broken JSON, an
     object without \"response\": the message says which)
  2  usage error
  3  unreachable, closed without answering, or no answer within --timeout";

const PING_RU: &str = "\
Отправляет один presence (одной записью), печатает ответ и закрывает соединение: обмен урока 3.

Примеры:
  # 200 OK (2 ms)
  jim-client ping localhost
  # серверы урока 3 принимают только Guest
  jim-client ping 127.0.0.1 8888 --name Alice
  jim-client ping 127.0.0.1 7777 --dialect course --json

Код выхода:
  0  ответ 2xx
  1  любой другой код или ответ не по JIM (простой текст, битый JSON, объект без
     \"response\": сообщение скажет, что именно)
  2  ошибка в аргументах
  3  сервер недоступен, закрыл соединение, не ответив, или молчал дольше --timeout";

const CHAT_EN: &str = "\
Logs in (presence; with --password: spec `authenticate` first, or the course 511 challenge
answered), then reads commands. Messages from the server are printed as they arrive.

Commands (type /help inside):
  /msg USER TEXT    /to NAME    TEXT (to the current target)    /join #ROOM    /leave #ROOM
  /contacts    /add USER    /del USER    /users    /raw JSON    /help    /quit

One request is sent at a time: the next one waits for the previous answer (or --timeout).
A probe from the server is answered with a presence. When stdin is not a terminal, commands
are read line by line and end of input quits, so it can be scripted.

Examples:
  printf '/join #lobby\\nhello all\\n/quit\\n' | jim-client chat 127.0.0.1 7777 --name Alice
  jim-client chat 127.0.0.1 7777 --name Alice --password secret --dialect course

Exit status:
  0  after /quit or end of input
  1  the login is refused, or the server ends the session first
  3  the server cannot be reached or does not answer";

const CHAT_RU: &str = "\
Входит (presence; с --password: сначала `authenticate` диалекта spec или ответ на вызов 511
диалекта course), затем читает команды. Сообщения сервера печатаются по мере прихода.

Команды (внутри наберите /help):
  /msg USER TEXT    /to NAME    TEXT (текущему адресату)    /join #ROOM    /leave #ROOM
  /contacts    /add USER    /del USER    /users    /raw JSON    /help    /quit

Запросы идут по одному: следующий ждёт ответа на предыдущий (или --timeout). На probe
сервера отвечает presence. Если stdin — не терминал, команды читаются построчно, а конец
ввода завершает чат, так что его можно вызывать из скриптов.

Примеры:
  printf '/join #lobby\\nhello all\\n/quit\\n' | jim-client chat 127.0.0.1 7777 --name Alice
  jim-client chat 127.0.0.1 7777 --name Alice --password secret --dialect course

Код выхода:
  0  после /quit или конца ввода
  1  во входе отказано, или сервер завершил сеанс первым
  3  сервер недоступен или не отвечает";

const SEND_EN: &str = "\
Sends each JSON argument as its own write (followed by \\n unless --framing bare), then prints
everything received, with its arrival time in ms since connecting. Before each next message
it waits until something arrives or --gap passes; after the last one it reads for --wait or
until the server closes. Bytes that are not JSON are shown as an error line with a preview.
--raw escapes: \\n \\r \\t \\0 \\\\ \\xNN \\u{HEX}. If the first message is a bare number, give
PORT explicitly.

Examples:
  jim-client send 127.0.0.1 7777 '{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Guest\"}}'
  # raw bytes, cut in two
  jim-client send 127.0.0.1 7777 --raw '{\"action\":\"pres' --raw 'ence\"}\\n'
  # order kept
  jim-client send 127.0.0.1 7777 --raw '\\xff\\xfe\\n' '{\"action\":\"quit\"}'
  # both in ONE write (pipelining)
  jim-client send 127.0.0.1 7777 --coalesce MSG1 MSG2
  # 5-byte writes, 20 ms apart
  jim-client send 127.0.0.1 7777 --split 5 MSG
  # one byte every 50 ms
  jim-client send 127.0.0.1 7777 --trickle 50 MSG

Exit status:
  0  everything was sent
  1  the connection closed or failed first
  2  usage error
  3  unreachable";

const SEND_RU: &str = "\
Отправляет каждый аргумент JSON отдельной записью (с \\n в конце, если не --framing bare),
затем печатает всё полученное со временем прихода в мс от подключения. Перед каждым следующим
сообщением ждёт, пока что-нибудь придёт или пройдёт --gap; после последнего читает --wait или
пока сервер не закроет соединение. Байты не в JSON показываются строкой ошибки с началом
данных. Экранирование в --raw: \\n \\r \\t \\0 \\\\ \\xNN \\u{HEX}. Если первое сообщение —
просто число, укажите PORT явно.

Примеры:
  jim-client send 127.0.0.1 7777 '{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Guest\"}}'
  # байты как есть, разрезанные надвое
  jim-client send 127.0.0.1 7777 --raw '{\"action\":\"pres' --raw 'ence\"}\\n'
  # порядок сохраняется
  jim-client send 127.0.0.1 7777 --raw '\\xff\\xfe\\n' '{\"action\":\"quit\"}'
  # оба сообщения ОДНОЙ записью (конвейер)
  jim-client send 127.0.0.1 7777 --coalesce MSG1 MSG2
  # записи по 5 байт через 20 мс
  jim-client send 127.0.0.1 7777 --split 5 MSG
  # по байту каждые 50 мс
  jim-client send 127.0.0.1 7777 --trickle 50 MSG

Код выхода:
  0  всё отправлено
  1  соединение закрылось или оборвалось раньше
  2  ошибка в аргументах
  3  сервер недоступен";

const SCRIPT_EN: &str = "\
Runs a scenario (FILE, or - for stdin) written in the conformance suite's fixture language:
one step per line (blank lines and lines starting with // or # are comments), or a whole
fixture file. Steps use connection \"a\" unless they say \"conn\":

  {\"send\": {\"action\":\"presence\",\"time\":\"$now\",\"user\":{\"account_name\":\"Guest\"}}}
  {\"expect\": {\"response\": 200}}                 next value must match (pushes are skipped)
  {\"expect\": {\"response\": 200}, \"timeout_ms\": 5000}
  {\"expect_any\": [{\"response\": 200}, {\"response\": 202}]}
  {\"send_raw\": \"{\\\"action\\\":\\\"quit\\\"}\\n\"}         bytes with escapes (\\n \\xNN \\u{HEX})
  {\"expect_silence\": {\"for_ms\": 500}}           nothing may arrive for 500 ms
  {\"expect_close\": true}                         the server closes the connection next
  {\"listen_ms\": 100}                             keep reading for 100 ms

Patterns (fixtures/README.md): every key of the pattern must match, extra keys are fine,
numbers match by value (200 = 200.0); \"$any\", \"$number\", \"$string\", \"$array\",
\"$object\", {\"$in\": [...]}, {\"$regex\": ...} and the other operators match by rule.
Placeholders: \"$now\" is the current time, \"$user:alice\" a unique name per run.

Examples:
  jim-client script 127.0.0.1 7777 checks.jsonl
  printf '%s\\n' '{\"send\":{\"action\":\"presence\",\"time\":\"$now\",\"user\":{\"account_name\":\"Guest\"}}}' \\
    '{\"expect\":{\"response\":200}}' | jim-client script 127.0.0.1 7777 -

Exit status:
  0  every expectation held
  1  the first mismatch (line number, expected, got, why)
  2  a bad script
  3  the server cannot be reached";

const SCRIPT_RU: &str = "\
Выполняет сценарий (FILE или - для stdin) на языке фикстур набора проверок: по шагу в строке
(пустые строки и строки, начинающиеся с // или #, — комментарии) или целый файл фикстуры.
Шаги идут по соединению \"a\", если не указано \"conn\":

  {\"send\": {\"action\":\"presence\",\"time\":\"$now\",\"user\":{\"account_name\":\"Guest\"}}}
  {\"expect\": {\"response\": 200}}                 следующее значение должно подойти (push пропускаются)
  {\"expect\": {\"response\": 200}, \"timeout_ms\": 5000}
  {\"expect_any\": [{\"response\": 200}, {\"response\": 202}]}
  {\"send_raw\": \"{\\\"action\\\":\\\"quit\\\"}\\n\"}         байты с экранированием (\\n \\xNN \\u{HEX})
  {\"expect_silence\": {\"for_ms\": 500}}           500 мс ничего не должно прийти
  {\"expect_close\": true}                         следующим сервер закрывает соединение
  {\"listen_ms\": 100}                             читать ещё 100 мс

Образцы (fixtures/README.md): каждый ключ образца должен подойти, лишние ключи не мешают,
числа сравниваются по значению (200 = 200.0); \"$any\", \"$number\", \"$string\", \"$array\",
\"$object\", {\"$in\": [...]}, {\"$regex\": ...} и другие операторы подходят по правилу.
Подстановки: \"$now\" — текущее время, \"$user:alice\" — имя, уникальное для запуска.

Примеры:
  jim-client script 127.0.0.1 7777 checks.jsonl
  printf '%s\\n' '{\"send\":{\"action\":\"presence\",\"time\":\"$now\",\"user\":{\"account_name\":\"Guest\"}}}' \\
    '{\"expect\":{\"response\":200}}' | jim-client script 127.0.0.1 7777 -

Код выхода:
  0  все ожидания выполнены
  1  первое расхождение (номер строки, ожидалось, получено, почему)
  2  ошибка в сценарии
  3  сервер недоступен";

const LISTEN_EN: &str = "\
Logs in like chat, joins the --join rooms, then prints every message that arrives as one
compact JSON line on stdout (flushed per line, with or without --json); status goes to
stderr. Answers probes. Stops when the server closes, on Ctrl-C, after --count messages or
after --duration.

Examples:
  jim-client listen 127.0.0.1 7777 --name Bob
  jim-client listen 127.0.0.1 7777 --name Bob --join '#lobby' | jq .
  # for scripts
  jim-client listen 127.0.0.1 7777 --name Bob --count 1 --duration 10

Exit status:
  0  it stopped normally
  1  the login or a join is refused
  3  unreachable";

const LISTEN_RU: &str = "\
Входит, как chat, входит в комнаты --join и печатает каждое пришедшее сообщение одной
строкой JSON в stdout (построчно, с --json и без); состояние — в stderr. Отвечает на probe.
Останавливается, когда сервер закрывает соединение, по Ctrl-C, после --count сообщений или
через --duration.

Примеры:
  jim-client listen 127.0.0.1 7777 --name Bob
  jim-client listen 127.0.0.1 7777 --name Bob --join '#lobby' | jq .
  # для скриптов
  jim-client listen 127.0.0.1 7777 --name Bob --count 1 --duration 10

Код выхода:
  0  остановился как обычно
  1  во входе или в комнату отказано
  3  сервер недоступен";
