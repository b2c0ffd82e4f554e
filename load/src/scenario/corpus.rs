//! The messages the `search` scenario seeds, and the queries it asks: a
//! deterministic chat-like corpus (message `n` is always the same text), so
//! runs on the same size compare, and each query class has a known shape.
//!
//! Most messages are Latin-script words drawn with a Zipf-like skew (a few
//! very common words, a long tail of rare ones), a fifth are Chinese,
//! Japanese or Korean (no spaces between Chinese and Japanese words), and a
//! few marker words are planted at fixed intervals, so a "rare" query has a
//! known number of hits wherever it is run.

/// Common chat words, most frequent first.
const LATIN: &[&str] = &[
    "the", "to", "and", "i", "you", "a", "is", "it", "ok", "in", "that", "for", "we", "on", "this", "be", "can", "go",
    "do", "so", "not", "are", "just", "but", "have", "will", "with", "at", "yes", "no", "what", "lunch", "meeting",
    "today", "tomorrow", "deploy", "release", "build", "test", "review", "merge", "branch", "bug", "fix", "please",
    "thanks", "coffee", "later", "done", "ready", "server", "client", "logs", "error", "ticket", "standup", "weekend",
    "morning", "call", "link", "docs", "issue", "patch", "rollback", "cache", "query",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ren", "tos", "vel", "bru", "dan", "fi", "gor", "hul", "jin", "ko", "lum", "nar", "pe", "qui",
    "ros", "sa", "tiv", "ur", "wen", "xa", "yol", "zed",
];
const CHINESE: &[&str] = &[
    "你好",
    "我们",
    "今天",
    "明天",
    "一起",
    "工作",
    "时间",
    "问题",
    "谢谢",
    "朋友",
    "吃饭",
    "天气",
    "会议",
    "电脑",
    "手机",
    "北京",
    "上海",
    "没有",
    "知道",
    "觉得",
    "可以",
    "已经",
    "发布",
    "测试",
    "代码",
    "周末",
    "咖啡",
    "项目",
    "需要",
    "开始",
    "下午",
    "晚上",
    "同事",
    "文档",
    "服务器",
    "数据库",
    "你好吗",
    "大家",
];
const JAPANESE: &[&str] = &[
    "こんにちは",
    "今日",
    "明日",
    "東京",
    "会議",
    "仕事",
    "ありがとう",
    "電車",
    "天気",
    "ランチ",
    "確認",
    "よろしく",
    "お疲れ様",
    "資料",
    "予定",
    "時間",
    "大阪",
    "テスト",
    "リリース",
    "です",
    "ます",
    "の",
    "は",
    "を",
    "に",
    "が",
];
const KOREAN: &[&str] = &[
    "안녕하세요",
    "오늘",
    "내일",
    "서울",
    "회의",
    "감사합니다",
    "친구",
    "점심",
    "날씨",
    "확인",
    "일정",
    "시간",
    "부산",
    "테스트",
    "배포",
    "커피",
    "주말",
    "문서",
    "질문",
    "좋아요",
];

/// Words planted every so many messages (at `n % every == at`), with how
/// many hits a run of `seed` messages gives each.
pub const PLANTED: &[(&str, u64, u64)] = &[
    ("quasar", 100_003, 17),
    ("nebula", 10_007, 3),
    ("麒麟", 100_019, 29),
    ("곰탕", 50_021, 41),
    ("富士山頂", 49_999, 5),
];

/// A small deterministic generator (xorshift64*): no dependency, and the
/// same corpus on every machine (`history` draws its rooms with it too).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// An index below `n`, index `k` about `1/(k+1)` as likely as index 0.
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (((n as f64 + 1.0).powf(u) - 1.0) as usize).min(n - 1)
    }
}

/// Words of the Latin vocabulary beyond the common ones: made of
/// syllables, so they are many and each is rare.
const TAIL_WORDS: usize = 20_000;

fn latin_word(rng: &mut Rng) -> String {
    let index = rng.skewed(LATIN.len() + TAIL_WORDS);
    if let Some(word) = LATIN.get(index) {
        return (*word).to_owned();
    }
    // The same index always spells the same word.
    let mut k = index;
    let mut word = String::new();
    for _ in 0..3 {
        word.push_str(SYLLABLES[k % SYLLABLES.len()]);
        k /= SYLLABLES.len();
    }
    word
}

/// The text of message `n`.
pub fn message(n: u64) -> String {
    let mut rng = Rng::new(n);
    let mut text = match rng.below(20) {
        0 | 1 => joined(&mut rng, CHINESE, "", "！"),
        2 => joined(&mut rng, JAPANESE, "", "。"),
        3 => joined(&mut rng, KOREAN, " ", ""),
        _ => {
            let words: Vec<String> = (0..3 + rng.below(13)).map(|_| latin_word(&mut rng)).collect();
            let mut text = words.join(" ");
            if rng.below(4) == 0 {
                text[..1].make_ascii_uppercase();
            }
            text
        }
    };
    for (word, every, at) in PLANTED {
        if n % every == *at {
            text.push(' ');
            text.push_str(word);
        }
    }
    text
}

fn joined(rng: &mut Rng, words: &[&str], separator: &str, end: &str) -> String {
    let count = 3 + rng.below(8);
    let picked: Vec<&str> = (0..count).map(|_| words[rng.skewed(words.len())]).collect();
    format!("{}{end}", picked.join(separator))
}

/// The query classes and their queries: common and rare words, words found
/// nowhere, two-character CJK words (which no trigram covers), longer CJK
/// words, and several words at once.
pub const QUERIES: &[(&str, &[&str])] = &[
    ("common", &["the", "meeting", "deploy"]),
    ("latin-short", &["ok", "go", "i"]),
    ("rare", &["quasar", "nebula"]),
    ("absent", &["xylophonist", "kalorenx"]),
    ("cjk-2", &["你好", "今天", "東京", "서울"]),
    ("cjk-2-rare", &["麒麟", "곰탕"]),
    ("cjk-2-absent", &["龍龍", "뷁뷁"]),
    ("cjk-3+", &["こんにちは", "안녕하세요", "富士山頂", "服务器"]),
    ("multi", &["the meeting", "deploy release tomorrow", "你好 朋友", "nebula the", "麒麟 你好"]),
];

/// One message in this many goes to the room `<base>-quiet` instead of
/// `<base>-<n % rooms>`: a room with few messages among many.
const QUIET_EVERY: u64 = 20_000;

/// The suffix of the room message `n` is posted to (`<base>-<suffix>`).
pub fn room_of(n: u64, rooms: u64) -> String {
    if n % QUIET_EVERY == 7 { "quiet".to_owned() } else { (n % rooms).to_string() }
}

/// Searches kept to one room (`room=<base>-<suffix>`): common, rare and
/// absent words in a room of `1/rooms` of the messages, and in the quiet
/// room (where a common word's matches elsewhere must not be read).
pub const ROOM_QUERIES: &[(&str, &str)] = &[
    ("the", "5"),
    ("你好", "5"),
    ("quasar", "17"),
    ("xylophonist", "5"),
    ("the", "quiet"),
    ("你好", "quiet"),
    ("nebula", "quiet"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_n_is_always_the_same_text() {
        assert_eq!(message(12345), message(12345));
        assert_ne!(message(1), message(2));
        assert!(message(17).ends_with(" quasar"), "{}", message(17));
        assert!(message(29).ends_with(" 麒麟"), "{}", message(29));
    }

    #[test]
    fn one_message_in_twenty_thousand_goes_to_the_quiet_room() {
        assert_eq!(room_of(7, 100), "quiet");
        assert_eq!(room_of(20_007, 100), "quiet");
        assert_eq!(room_of(17, 100), "17");
        assert_eq!((0..100_000).filter(|n| room_of(*n, 100) == "quiet").count(), 5);
    }

    #[test]
    fn every_message_is_a_valid_post() {
        for n in 0..5000 {
            let text = message(n);
            assert!(!text.trim().is_empty() && text.chars().count() <= 2000, "{n}: {text:?}");
        }
    }

    #[test]
    fn a_fifth_of_the_messages_are_cjk() {
        let cjk = (0..10_000).filter(|n| message(*n).chars().next().is_some_and(|c| !c.is_ascii())).count();
        assert!((1500..2500).contains(&cjk), "{cjk}");
    }
}
