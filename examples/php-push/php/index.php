<?php
// The PHP app of examples/php-push: a form that pushes a notification to every open
// notifications page, with one signed HTTP request to Pawl's HTTP bridge (php-curl).
//
//   php -S 127.0.0.1:8000 -t examples/php-push/php
//
// PAWL_PUSH, PAWL_KEY and PAWL_SECRET (environment) say where and how to push; the defaults
// match `go run ./examples/php-push`.
$pushUrl = getenv('PAWL_PUSH') ?: 'http://127.0.0.1:8080/push';
$key = getenv('PAWL_KEY') ?: 'php-app';
$secret = getenv('PAWL_SECRET') ?: 'change-me: a long random secret shared with the PHP app';

// pawl_publish publishes an event through the bridge's signed publisher and returns the
// publication ID; it throws with the bridge's message when the request is refused.
function pawl_publish(string $url, string $key, string $secret, string $topic, array $args, array $kwargs): int
{
    $body = json_encode(['topic' => $topic, 'args' => $args, 'kwargs' => (object) $kwargs]);
    $timestamp = (new DateTime('now', new DateTimeZone('UTC')))->format('Y-m-d\TH:i:s.u\Z');
    $seq = '1';
    $nonce = (string) random_int(0, PHP_INT_MAX);
    $mac = hash_hmac('sha256', $key . $timestamp . $seq . $nonce . $body, $secret, true);
    $signature = strtr(base64_encode($mac), '+/', '-_');
    $ch = curl_init($url . '?' . http_build_query(compact('key', 'timestamp', 'seq', 'nonce', 'signature')));
    curl_setopt_array($ch, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => $body,
        CURLOPT_HTTPHEADER => ['Content-Type: application/json'],
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT => 5,
    ]);
    $raw = curl_exec($ch);
    if ($raw === false) {
        throw new RuntimeException('the bridge cannot be reached: ' . curl_error($ch));
    }
    $answer = json_decode($raw, true);
    $status = curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
    if ($status !== 200) {
        throw new RuntimeException("refused ($status): {$answer['error']}: {$answer['args'][0]}");
    }
    return $answer['id'];
}

$result = null;
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $title = trim($_POST['title'] ?? '');
    $body = trim($_POST['body'] ?? '');
    try {
        $id = pawl_publish($pushUrl, $key, $secret, 'app.notifications', [$title, $body],
            ['at' => gmdate('H:i:s') . ' UTC']);
        $result = ['ok', "Sent (publication $id)."];
    } catch (RuntimeException $e) {
        $result = ['error', 'Not sent: ' . $e->getMessage()];
    }
}
$h = fn(string $s): string => htmlspecialchars($s, ENT_QUOTES);
?>
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Send a notification — PHP</title></head>
<body style="font: 16px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 40rem">
<h1>Send a notification</h1>
<?php if ($result): ?>
  <p id="result" class="<?= $h($result[0]) ?>"><?= $h($result[1]) ?></p>
<?php endif ?>
<form method="post">
  <p><label>Title <input id="title" name="title" required maxlength="80"></label></p>
  <p><label>Text <textarea id="body" name="body" rows="3" cols="40"></textarea></label></p>
  <p><button id="send" type="submit">Push to every browser</button></p>
</form>
</body>
</html>
