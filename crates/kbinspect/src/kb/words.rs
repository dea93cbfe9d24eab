//! The one table of words: column headers, "not applicable" words, section
//! headings and month names per language. Adding a language means adding one
//! [`Lang`] entry (plus synonyms in [`EXTRA_HEADERS`] / [`EXTRA_NA`] if the
//! language has variants); the lookups below are built from these tables.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The meaning of a column, recognised from its header cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Name,
    Version,
    Size,
    Date,
    Time,
    Platform,
    ServiceBranch,
    SpRequirement,
}

impl Column {
    /// The order in which [`Lang::headers`] lists the words.
    pub const ALL: [Column; 8] = [
        Column::Name,
        Column::Version,
        Column::Size,
        Column::Date,
        Column::Time,
        Column::Platform,
        Column::ServiceBranch,
        Column::SpRequirement,
    ];
}

/// How a language writes a date; used when rendering test variants and to
/// resolve `a/b/yyyy` dates (month first only for US English).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `05-Oct-2009` with the language's month abbreviation.
    DayMonYear,
    /// `05.10.2009`
    DottedDmy,
    /// `05/10/2009` (day first)
    SlashDmy,
    /// `10/05/2009` (US: month first)
    SlashMdy,
    /// `2009-10-05`
    Iso,
    /// `2009/10/05`
    SlashYmd,
    /// `2009年10月5日`
    Cjk,
}

/// One language: the words a KB article in that language uses.
#[derive(Debug)]
pub struct Lang {
    pub code: &'static str,
    /// In [`Column::ALL`] order.
    pub headers: [&'static str; 8],
    /// The preferred "not applicable" word (first one is used for rendering).
    pub not_applicable: &'static [&'static str],
    /// Heading of a file table; `{arch}` is replaced by x86/x64/Itanium/ARM64.
    pub files_heading: &'static str,
    /// Heading of an additional-files table.
    pub additional_heading: &'static str,
    /// Words that mark an additional-files heading or section.
    pub additional_words: &'static [&'static str],
    /// Words that mark a "file information" section heading.
    pub file_info_words: &'static [&'static str],
    /// Month names: each month lists full names, genitives and abbreviations.
    pub months: [&'static [&'static str]; 12],
    pub date_style: DateStyle,
    /// Thousands separator used when rendering sizes.
    pub thousands: &'static str,
}

/// English month names, shared by the British (`en`) and US (`en-us`) entries.
const ENGLISH_MONTHS: [&[&str]; 12] = [
    &["january", "jan"],
    &["february", "feb"],
    &["march", "mar"],
    &["april", "apr"],
    &["may"],
    &["june", "jun"],
    &["july", "jul"],
    &["august", "aug"],
    &["september", "sep", "sept"],
    &["october", "oct"],
    &["november", "nov"],
    &["december", "dec"],
];

/// Japanese and Chinese write months the same way (`10月`, `十月`).
const CJK_MONTHS: [&[&str]; 12] = [
    &["1月", "一月"],
    &["2月", "二月"],
    &["3月", "三月"],
    &["4月", "四月"],
    &["5月", "五月"],
    &["6月", "六月"],
    &["7月", "七月"],
    &["8月", "八月"],
    &["9月", "九月"],
    &["10月", "十月"],
    &["11月", "十一月"],
    &["12月", "十二月"],
];

pub static LANGS: &[Lang] = &[
    Lang {
        code: "en",
        headers: [
            "File name",
            "File version",
            "File size",
            "Date",
            "Time",
            "Platform",
            "Service branch",
            "SP requirement",
        ],
        not_applicable: &["Not applicable", "Not Applicable", "N/A", "NA"],
        files_heading: "For all supported {arch}-based versions of Windows 7",
        additional_heading: "Additional files for all supported {arch}-based versions of Windows 7",
        additional_words: &["additional file", "additional files"],
        file_info_words: &["file information", "file attributes"],
        months: ENGLISH_MONTHS,
        date_style: DateStyle::DayMonYear,
        thousands: ",",
    },
    Lang {
        code: "nl",
        headers: [
            "Bestandsnaam",
            "Bestandsversie",
            "Bestandsgrootte",
            "Datum",
            "Tijd",
            "Platform",
            "Servicestructuur",
            "SP-vereiste",
        ],
        not_applicable: &["Niet van toepassing", "Niet toepasbaar", "N.v.t."],
        files_heading: "Voor alle ondersteunde versies van Windows 7 op basis van {arch}",
        additional_heading: "Extra bestanden voor alle ondersteunde {arch}-versies van Windows 7",
        additional_words: &["aanvullende bestand", "extra bestand"],
        file_info_words: &["bestandsinformatie"],
        months: [
            &["januari", "jan"],
            &["februari", "feb"],
            &["maart", "mrt", "maa"],
            &["april", "apr"],
            &["mei"],
            &["juni", "jun"],
            &["juli", "jul"],
            &["augustus", "aug"],
            &["september", "sep", "sept"],
            &["oktober", "okt"],
            &["november", "nov"],
            &["december", "dec"],
        ],
        date_style: DateStyle::DayMonYear,
        thousands: ".",
    },
    Lang {
        code: "de",
        headers: [
            "Dateiname",
            "Dateiversion",
            "Dateigröße",
            "Datum",
            "Uhrzeit",
            "Plattform",
            "Dienstzweig",
            "SP-Anforderung",
        ],
        not_applicable: &["Nicht zutreffend", "Nicht anwendbar", "Entfällt"],
        files_heading: "Für alle unterstützten {arch}-basierten Versionen von Windows 7",
        additional_heading: "Zusätzliche Dateien für alle unterstützten {arch}-basierten Versionen von Windows 7",
        additional_words: &["zusätzliche datei", "weitere datei"],
        file_info_words: &["dateiinformation"],
        months: [
            &["januar", "jan", "jänner", "jän"],
            &["februar", "feb"],
            &["märz", "mär", "mrz", "maerz"],
            &["april", "apr"],
            &["mai"],
            &["juni", "jun"],
            &["juli", "jul"],
            &["august", "aug"],
            &["september", "sep", "sept"],
            &["oktober", "okt"],
            &["november", "nov"],
            &["dezember", "dez"],
        ],
        date_style: DateStyle::DottedDmy,
        thousands: ".",
    },
    Lang {
        code: "fr",
        headers: [
            "Nom de fichier",
            "Version du fichier",
            "Taille du fichier",
            "Date",
            "Heure",
            "Plateforme",
            "Branche de service",
            "Configuration SP requise",
        ],
        not_applicable: &["Non applicable", "Sans objet", "Non disponible"],
        files_heading: "Pour toutes les versions {arch} prises en charge de Windows 7",
        additional_heading: "Fichiers supplémentaires pour toutes les versions {arch} prises en charge de Windows 7",
        additional_words: &[
            "fichiers supplémentaires",
            "informations supplémentaires sur les fichiers",
            "fichier supplémentaire",
        ],
        file_info_words: &[
            "informations sur le fichier",
            "informations sur les fichiers",
            "informations de fichier",
        ],
        months: [
            &["janvier", "janv", "jan"],
            &["février", "févr", "fév", "fevrier", "fevr", "fev"],
            &["mars"],
            &["avril", "avr"],
            &["mai"],
            &["juin"],
            &["juillet", "juil"],
            &["août", "aout", "aoû"],
            &["septembre", "sept"],
            &["octobre", "oct"],
            &["novembre", "nov"],
            &["décembre", "déc", "decembre", "dec"],
        ],
        date_style: DateStyle::DayMonYear,
        thousands: "\u{a0}",
    },
    Lang {
        code: "es",
        headers: [
            "Nombre de archivo",
            "Versión de archivo",
            "Tamaño de archivo",
            "Fecha",
            "Hora",
            "Plataforma",
            "Rama de servicio",
            "Requisito de SP",
        ],
        not_applicable: &["No aplicable", "No corresponde", "No procede"],
        files_heading: "Para todas las versiones de Windows 7 basadas en {arch} compatibles",
        additional_heading: "Archivos adicionales para todas las versiones de Windows 7 basadas en {arch}",
        additional_words: &[
            "archivos adicionales",
            "información adicional de archivo",
            "archivo adicional",
        ],
        file_info_words: &[
            "información de archivo",
            "información del archivo",
            "información de archivos",
        ],
        months: [
            &["enero", "ene"],
            &["febrero", "feb"],
            &["marzo", "mar"],
            &["abril", "abr"],
            &["mayo", "may"],
            &["junio", "jun"],
            &["julio", "jul"],
            &["agosto", "ago"],
            &["septiembre", "setiembre", "sep", "sept", "set"],
            &["octubre", "oct"],
            &["noviembre", "nov"],
            &["diciembre", "dic"],
        ],
        date_style: DateStyle::DayMonYear,
        thousands: ".",
    },
    Lang {
        code: "it",
        headers: [
            "Nome file",
            "Versione file",
            "Dimensione file",
            "Data",
            "Ora",
            "Piattaforma",
            "Ramo di servizio",
            "Requisiti SP",
        ],
        not_applicable: &["Non applicabile", "Non pertinente"],
        files_heading: "Per tutte le versioni supportate di Windows 7 basate su {arch}",
        additional_heading: "File aggiuntivi per tutte le versioni supportate di Windows 7 basate su {arch}",
        additional_words: &["file aggiuntivi", "informazioni aggiuntive sui file"],
        file_info_words: &["informazioni sui file", "informazioni file"],
        months: [
            &["gennaio", "gen"],
            &["febbraio", "feb"],
            &["marzo", "mar"],
            &["aprile", "apr"],
            &["maggio", "mag"],
            &["giugno", "giu"],
            &["luglio", "lug"],
            &["agosto", "ago"],
            &["settembre", "set"],
            &["ottobre", "ott"],
            &["novembre", "nov"],
            &["dicembre", "dic"],
        ],
        date_style: DateStyle::SlashDmy,
        thousands: ".",
    },
    Lang {
        code: "pt",
        headers: [
            "Nome do arquivo",
            "Versão do arquivo",
            "Tamanho do arquivo",
            "Data",
            "Hora",
            "Plataforma",
            "Ramificação de serviço",
            "Requisito de SP",
        ],
        not_applicable: &["Não aplicável", "Não se aplica", "Nao aplicavel"],
        files_heading: "Para todas as versões com suporte do Windows 7 baseadas em {arch}",
        additional_heading: "Arquivos adicionais para todas as versões com suporte do Windows 7 baseadas em {arch}",
        additional_words: &[
            "arquivos adicionais",
            "ficheiros adicionais",
            "informações adicionais de arquivo",
        ],
        file_info_words: &[
            "informações de arquivo",
            "informações do arquivo",
            "informações do ficheiro",
        ],
        months: [
            &["janeiro", "jan"],
            &["fevereiro", "fev"],
            &["março", "mar", "marco"],
            &["abril", "abr"],
            &["maio", "mai"],
            &["junho", "jun"],
            &["julho", "jul"],
            &["agosto", "ago"],
            &["setembro", "set"],
            &["outubro", "out"],
            &["novembro", "nov"],
            &["dezembro", "dez"],
        ],
        date_style: DateStyle::SlashDmy,
        thousands: ".",
    },
    Lang {
        code: "sv",
        headers: [
            "Filnamn",
            "Filversion",
            "Filstorlek",
            "Datum",
            "Tid",
            "Plattform",
            "Tjänstgren",
            "SP-krav",
        ],
        not_applicable: &["Ej tillämpligt", "Inte tillämpligt", "Gäller inte"],
        files_heading: "För alla {arch}-baserade versioner av Windows 7 som stöds",
        additional_heading: "Ytterligare filer för alla {arch}-baserade versioner av Windows 7 som stöds",
        additional_words: &["ytterligare fil", "ytterligare filinformation"],
        file_info_words: &["filinformation"],
        months: [
            &["januari", "jan"],
            &["februari", "feb"],
            &["mars", "mar"],
            &["april", "apr"],
            &["maj"],
            &["juni", "jun"],
            &["juli", "jul"],
            &["augusti", "aug"],
            &["september", "sep", "sept"],
            &["oktober", "okt"],
            &["november", "nov"],
            &["december", "dec"],
        ],
        date_style: DateStyle::Iso,
        thousands: " ",
    },
    Lang {
        code: "pl",
        headers: [
            "Nazwa pliku",
            "Wersja pliku",
            "Rozmiar pliku",
            "Data",
            "Godzina",
            "Platforma",
            "Gałąź usługi",
            "Wymagany dodatek SP",
        ],
        not_applicable: &["Nie dotyczy", "Nie ma zastosowania"],
        files_heading: "Dla wszystkich obsługiwanych wersji systemu Windows 7 opartych na architekturze {arch}",
        additional_heading: "Dodatkowe pliki dla wszystkich obsługiwanych wersji systemu Windows 7 opartych na architekturze {arch}",
        additional_words: &[
            "dodatkowe pliki",
            "dodatkowe informacje o plikach",
            "dodatkowy plik",
        ],
        file_info_words: &["informacje o pliku", "informacje o plikach"],
        months: [
            &["styczeń", "stycznia", "sty"],
            &["luty", "lutego", "lut"],
            &["marzec", "marca", "mar"],
            &["kwiecień", "kwietnia", "kwi"],
            &["maj", "maja"],
            &["czerwiec", "czerwca", "cze"],
            &["lipiec", "lipca", "lip"],
            &["sierpień", "sierpnia", "sie"],
            &["wrzesień", "września", "wrz"],
            &["październik", "października", "paź", "paz"],
            &["listopad", "listopada", "lis"],
            &["grudzień", "grudnia", "gru"],
        ],
        date_style: DateStyle::DayMonYear,
        thousands: "\u{a0}",
    },
    Lang {
        code: "cs",
        headers: [
            "Název souboru",
            "Verze souboru",
            "Velikost souboru",
            "Datum",
            "Čas",
            "Platforma",
            "Větev služby",
            "Požadavek SP",
        ],
        not_applicable: &["Nelze použít", "Neuplatňuje se", "Nevztahuje se"],
        files_heading: "Pro všechny podporované verze systému Windows 7 pro platformu {arch}",
        additional_heading: "Další soubory pro všechny podporované verze systému Windows 7 pro platformu {arch}",
        additional_words: &[
            "další soubory",
            "další informace o souborech",
            "dodatečné soubory",
        ],
        file_info_words: &["informace o souborech", "informace o souboru"],
        months: [
            &["leden", "ledna", "led"],
            &["únor", "února", "úno"],
            &["březen", "března", "bře"],
            &["duben", "dubna", "dub"],
            &["květen", "května", "kvě"],
            &["červen", "června", "čvn"],
            &["červenec", "července", "čvc"],
            &["srpen", "srpna", "srp"],
            &["září", "zář"],
            &["říjen", "října", "říj"],
            &["listopad", "listopadu"],
            &["prosinec", "prosince", "pro"],
        ],
        date_style: DateStyle::DayMonYear,
        thousands: " ",
    },
    Lang {
        code: "ja",
        headers: [
            "ファイル名",
            "ファイル バージョン",
            "ファイル サイズ",
            "日付",
            "時刻",
            "プラットフォーム",
            "サービス ブランチ",
            "SP の要件",
        ],
        not_applicable: &["該当なし", "適用なし", "適用外"],
        files_heading: "Windows 7 のサポートされているすべての {arch} ベース バージョン",
        additional_heading: "Windows 7 のサポートされているすべての {arch} ベース バージョンの追加ファイル",
        additional_words: &["追加ファイル", "追加のファイル"],
        file_info_words: &["ファイル情報"],
        months: CJK_MONTHS,
        date_style: DateStyle::SlashYmd,
        thousands: ",",
    },
    Lang {
        code: "zh",
        headers: [
            "文件名",
            "文件版本",
            "文件大小",
            "日期",
            "时间",
            "平台",
            "服务分支",
            "SP 要求",
        ],
        not_applicable: &["不适用", "不適用"],
        files_heading: "对于所有受支持的基于 {arch} 的 Windows 7 版本",
        additional_heading: "所有受支持的基于 {arch} 的 Windows 7 版本的其他文件",
        additional_words: &["其他文件", "附加文件", "其他檔案", "其他文件信息"],
        file_info_words: &["文件信息", "檔案資訊"],
        months: CJK_MONTHS,
        date_style: DateStyle::Cjk,
        thousands: ",",
    },
    // US English only differs in how it writes dates; it exists so that
    // `10/05/2009` variants can be rendered and read.
    Lang {
        code: "en-us",
        headers: [
            "File Name",
            "File Version",
            "File Size",
            "Date (UTC)",
            "Time (UTC)",
            "Platform",
            "Service Branch",
            "SP Requirement",
        ],
        not_applicable: &["Not Applicable"],
        files_heading: "For all supported {arch}-based versions of Windows Server 2008 R2",
        additional_heading: "Additional file information for all supported {arch}-based versions of Windows Server 2008 R2",
        additional_words: &["additional file"],
        file_info_words: &["file information", "file attributes"],
        months: ENGLISH_MONTHS,
        date_style: DateStyle::SlashMdy,
        thousands: ",",
    },
];

/// Synonyms that are not any language's first choice, `(column, lang code, word)`.
pub static EXTRA_HEADERS: &[(Column, &str, &str)] = &[
    (Column::Name, "en", "Filename"),
    (Column::Name, "en", "Name"),
    (Column::Version, "en", "Version"),
    (Column::Size, "en", "Size"),
    (Column::ServiceBranch, "en", "Branch"),
    (Column::SpRequirement, "en", "Service pack requirement"),
    (Column::SpRequirement, "en", "SP requirements"),
    (Column::Time, "de", "Zeit"),
    (Column::ServiceBranch, "de", "Servicezweig"),
    (Column::Name, "fr", "Nom du fichier"),
    (Column::Version, "fr", "Version de fichier"),
    (Column::Size, "fr", "Taille de fichier"),
    (Column::Size, "es", "Tamaño del archivo"),
    (Column::Version, "es", "Versión del archivo"),
    (Column::Name, "es", "Nombre del archivo"),
    (Column::Size, "it", "Dimensioni file"),
    (Column::Name, "it", "Nome del file"),
    (Column::Version, "it", "Versione del file"),
    (Column::Name, "pt", "Nome do ficheiro"),
    (Column::Version, "pt", "Versão do ficheiro"),
    (Column::Size, "pt", "Tamanho do ficheiro"),
    (Column::Time, "pl", "Czas"),
    (Column::Name, "zh", "檔案名稱"),
    (Column::Version, "zh", "檔案版本"),
    (Column::Size, "zh", "檔案大小"),
    (Column::Time, "zh", "時間"),
];

/// Other spellings of "not applicable" (any language).
pub static EXTRA_NA: &[&str] = &[
    "-",
    "—",
    "–",
    "n.a.",
    "n. v. t.",
    "nvt",
    "s/o",
    // Downloadable file lists of cumulative updates, version column of
    // manifests and other unversioned files.
    "Not versioned",
    "Unversioned",
];

/// Platform and service-branch words that a scraped cell may have been glued to.
pub static PLATFORM_WORDS: &[&str] = &["x86", "x64", "ia-64", "ia64", "amd64", "arm64", "itanium"];
pub static BRANCH_WORDS: &[&str] = &[
    "WOW", "GDR", "LDR", "QFE", "RTMGDR", "RTMLDR", "RTMQFE", "SP1GDR", "SP1LDR", "SP1QFE",
    "SP2GDR", "SP2LDR", "SP2QFE", "SP3GDR", "SP3QFE",
];

/// The key under which words are compared: lowercase, without whitespace,
/// without parenthesised remarks (`Date (UTC)`) and markup characters.
pub fn key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    key_into(s, &mut out);
    out
}

/// [`key`] into a reused buffer: lookups run for nearly every cell, and
/// this keeps them free of allocation.
fn with_key<T>(s: &str, f: impl FnOnce(&str) -> T) -> T {
    thread_local! {
        static BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    BUF.with(|b| match b.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            key_into(s, &mut buf);
            f(&buf)
        }
        Err(_) => f(&key(s)),
    })
}

fn key_into(s: &str, out: &mut String) {
    let mut depth = 0u32;
    if s.is_ascii() {
        // Most cells are ASCII: byte loop, no per-char case tables.
        for b in s.bytes() {
            match b {
                b'(' => depth = depth.saturating_add(1),
                b')' => depth = depth.saturating_sub(1),
                _ if depth > 0 => {}
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | b'*' | b':' | b'`' => {}
                b => out.push(char::from(b.to_ascii_lowercase())),
            }
        }
    } else {
        for c in s.chars() {
            match c {
                '(' | '（' => depth = depth.saturating_add(1),
                ')' | '）' => depth = depth.saturating_sub(1),
                _ if depth > 0 => {}
                c if c.is_whitespace() => {}
                '*' | ':' | '：' | '`' => {}
                c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
                c => out.extend(c.to_lowercase()),
            }
        }
    }
    while out.ends_with('.') && out.len() > 1 && !out.ends_with("..") {
        out.pop();
    }
}

struct Lookups {
    headers: HashMap<String, (Column, usize)>,
    /// The key of the first word of every header (`file` of `File name`).
    header_starts: std::collections::HashSet<String>,
    na: std::collections::HashSet<String>,
    months: HashMap<String, u8>,
    additional: Vec<String>,
    file_info: Vec<String>,
}

fn lookups() -> &'static Lookups {
    static CELL: OnceLock<Lookups> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut headers = HashMap::new();
        let mut na = std::collections::HashSet::new();
        let mut months = HashMap::new();
        for (li, lang) in LANGS.iter().enumerate() {
            for (col, word) in Column::ALL.iter().zip(lang.headers.iter()) {
                headers.entry(key(word)).or_insert((*col, li));
            }
            for w in lang.not_applicable {
                na.insert(key(w));
            }
            for (mi, names) in lang.months.iter().enumerate() {
                for n in names.iter() {
                    months.entry(key(n)).or_insert(mi as u8 + 1);
                }
            }
        }
        for (col, code, word) in EXTRA_HEADERS {
            let li = LANGS.iter().position(|l| l.code == *code).unwrap_or(0);
            headers.entry(key(word)).or_insert((*col, li));
        }
        for w in EXTRA_NA {
            na.insert(key(w));
        }
        let header_starts = LANGS
            .iter()
            .flat_map(|l| l.headers.iter().copied())
            .chain(EXTRA_HEADERS.iter().map(|(_, _, w)| *w))
            .filter_map(|w| w.split_whitespace().next().map(key))
            .collect();
        let lower = |f: fn(&Lang) -> &'static [&'static str]| {
            LANGS
                .iter()
                .flat_map(|l| f(l).iter().map(|w| w.to_lowercase()))
                .collect()
        };
        Lookups {
            headers,
            header_starts,
            na,
            months,
            additional: lower(|l| l.additional_words),
            file_info: lower(|l| l.file_info_words),
        }
    })
}

/// The column a header cell names, and the index in [`LANGS`] of its language.
pub fn header(cell: &str) -> Option<(Column, usize)> {
    // No header word is long or starts with a digit (sizes, dates, versions).
    let t = cell.trim_start();
    if t.len() > 80 || t.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    with_key(cell, |k| lookups().headers.get(k).copied())
}

/// True when `word` (one whitespace-separated word) can start a header
/// cell: a cheap test before trying the phrases that start with it.
pub fn starts_header(word: &str) -> bool {
    if word.len() > 80 {
        return false;
    }
    with_key(word, |k| {
        !k.is_empty() && lookups().header_starts.contains(k)
    })
}

/// Every language's "not applicable" words as written.
pub fn na_words() -> &'static [String] {
    static CELL: OnceLock<Vec<String>> = OnceLock::new();
    CELL.get_or_init(|| {
        LANGS
            .iter()
            .flat_map(|l| l.not_applicable.iter().map(|w| w.to_string()))
            .collect()
    })
}

/// True for the words that mean "no value" (and for an empty cell).
pub fn is_not_applicable(cell: &str) -> bool {
    let t = cell.trim_start();
    if t.len() > 60 || t.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    with_key(cell, |k| k.is_empty() || lookups().na.contains(k))
}

/// Month number (1..=12) for a month name or abbreviation in any language.
pub fn month(word: &str) -> Option<u8> {
    if word.len() > 40 {
        return None;
    }
    with_key(word, |k| lookups().months.get(k).copied())
}

/// The language with this code.
pub fn lang(code: &str) -> Option<&'static Lang> {
    LANGS.iter().find(|l| l.code == code)
}

/// True when a heading speaks of additional files (mum/manifest tables).
pub fn is_additional_heading(text: &str) -> bool {
    let lower = text.to_lowercase();
    lookups()
        .additional
        .iter()
        .any(|w| lower.contains(w.as_str()))
}

/// True when a heading opens a "file information" section.
pub fn is_file_info_heading(text: &str) -> bool {
    let lower = text.to_lowercase();
    lookups()
        .file_info
        .iter()
        .any(|w| lower.contains(w.as_str()))
}

/// The architecture a heading names: the first of x86 / x64 / IA-64 / ARM64
/// mentioned, as a whole word (`x86-based`, `x64-versies`, `Itanium-versies`).
pub fn heading_arch(text: &str) -> Option<super::Arch> {
    use super::Arch;
    const WORDS: &[(&str, Arch)] = &[
        ("x86", Arch::X86),
        ("x64", Arch::X64),
        ("amd64", Arch::X64),
        ("ia-64", Arch::Ia64),
        ("ia64", Arch::Ia64),
        ("itanium", Arch::Ia64),
        ("arm64", Arch::Arm64),
    ];
    let lower = text.to_lowercase();
    let mut best: Option<(usize, Arch)> = None;
    for (w, arch) in WORDS {
        let mut from = 0;
        while let Some(pos) = lower.get(from..).and_then(|s| s.find(w)).map(|p| p + from) {
            let before = lower[..pos].chars().next_back();
            let after = lower[pos + w.len()..].chars().next();
            let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
            if boundary(before) && boundary(after) {
                if best.is_none_or(|(p, _)| pos < p) {
                    best = Some((pos, *arch));
                }
                break;
            }
            from = pos + w.len();
        }
    }
    best.map(|(_, a)| a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_month_word_names_two_months() {
        let mut seen: HashMap<String, (u8, &str)> = HashMap::new();
        for lang in LANGS {
            for (mi, names) in lang.months.iter().enumerate() {
                for n in names.iter() {
                    let k = key(n);
                    if let Some((m, other)) = seen.get(&k) {
                        assert_eq!(*m, mi as u8 + 1, "{n:?} ({}) vs {other}", lang.code);
                    }
                    seen.insert(k, (mi as u8 + 1, lang.code));
                }
            }
        }
    }

    #[test]
    fn no_header_word_names_two_columns() {
        let mut seen: HashMap<String, Column> = HashMap::new();
        for lang in LANGS {
            for (col, w) in Column::ALL.iter().zip(lang.headers.iter()) {
                if let Some(prev) = seen.insert(key(w), *col) {
                    assert_eq!(prev, *col, "{w:?} in {}", lang.code);
                }
            }
        }
    }

    #[test]
    fn header_keys_ignore_case_space_and_remarks() {
        assert_eq!(header("Date (UTC)").map(|h| h.0), Some(Column::Date));
        assert_eq!(header(" FILE  NAME ").map(|h| h.0), Some(Column::Name));
        assert_eq!(
            header("ファイルバージョン").map(|h| h.0),
            Some(Column::Version)
        );
        assert_eq!(
            header("Servicestructuur").map(|h| h.0),
            Some(Column::ServiceBranch)
        );
        assert_eq!(header("Vssapi.dll"), None);
    }

    #[test]
    fn na_words() {
        for w in [
            "Not applicable",
            "Not Applicable",
            "Niet van toepassing",
            "Nicht zutreffend",
            "Non applicable",
            "No aplicable",
            "",
        ] {
            assert!(is_not_applicable(w), "{w}");
        }
        assert!(!is_not_applicable("x86"));
        assert!(!is_not_applicable("6.1.7600.16385"));
    }

    #[test]
    fn headings() {
        use crate::kb::Arch;
        assert_eq!(
            heading_arch("Voor alle ondersteunde versies van Windows 7 op basis van x86"),
            Some(Arch::X86)
        );
        assert_eq!(
            heading_arch("Voor alle ondersteunde Itanium-versies van Windows Server 2008 R2"),
            Some(Arch::Ia64)
        );
        assert_eq!(heading_arch("IA-64-based versions"), Some(Arch::Ia64));
        assert_eq!(heading_arch("für x64-basierte Versionen"), Some(Arch::X64));
        assert_eq!(heading_arch("ARM64"), Some(Arch::Arm64));
        assert_eq!(heading_arch("Windows7 x640"), None);
        assert!(is_additional_heading("Aanvullende bestanden voor alle"));
        assert!(is_additional_heading(
            "Extra bestanden voor alle ondersteunde x86-versies"
        ));
        assert!(is_additional_heading("Zusätzliche Dateiinformationen"));
        assert!(is_additional_heading("Additional file information"));
        assert!(!is_additional_heading(
            "For all supported x86-based versions"
        ));
    }
}
