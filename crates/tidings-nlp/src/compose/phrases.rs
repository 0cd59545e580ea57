//! The offline composer's sentences, per language. Languages without a table here are answered
//! in English, and the output guardrail then reports the language mismatch.

use crate::language::Language;

/// The sentences replies are built from, in one language.
pub(super) struct Phrases {
    pub hello: &'static str,
    pub hey: &'static str,
    pub thanks_review: &'static str,
    pub thanks_message: &'static str,
    pub glad: &'static str,
    pub sorry: &'static str,
    pub sorry_warm: &'static str,
    pub answer: &'static str,
    pub follow_up: &'static str,
    pub order: &'static str,
    pub make_right: &'static str,
    pub welcome_back: &'static str,
    pub help_more: &'static str,
    pub greeting_reply: &'static str,
    pub thanks_reply: &'static str,
    pub regards: &'static str,
    pub team: &'static str,
}

const EN: Phrases = Phrases {
    hello: "Hello",
    hey: "Hi",
    thanks_review: "Thank you for your review.",
    thanks_message: "Thank you for your message.",
    glad: "We are delighted you enjoyed it.",
    sorry: "We are sorry to hear about your experience.",
    sorry_warm: "We are truly sorry this happened, and we understand how frustrating it must be.",
    answer: "Here is what we can tell you:",
    follow_up: "A member of our team will get back to you shortly with the details.",
    order: "We are looking into order {order} right away.",
    make_right: "Please send us a private message so we can make this right.",
    welcome_back: "We hope to welcome you again soon.",
    help_more: "Let us know if there is anything else we can help with.",
    greeting_reply: "How can we help you today?",
    thanks_reply: "You are welcome, we are happy to help.",
    regards: "Kind regards",
    team: "the team",
};

const ES: Phrases = Phrases {
    hello: "Hola",
    hey: "Hola",
    thanks_review: "Gracias por su reseña.",
    thanks_message: "Gracias por su mensaje.",
    glad: "Nos alegra mucho que lo haya disfrutado.",
    sorry: "Lamentamos mucho su experiencia.",
    sorry_warm: "Sentimos de verdad lo ocurrido y entendemos lo frustrante que debe de ser.",
    answer: "Esto es lo que podemos decirle:",
    follow_up: "Una persona de nuestro equipo le responderá en breve con los detalles.",
    order: "Estamos revisando el pedido {order} ahora mismo.",
    make_right: "Por favor, envíenos un mensaje privado para que podamos solucionarlo.",
    welcome_back: "Esperamos volver a verle pronto.",
    help_more: "Díganos si podemos ayudarle en algo más.",
    greeting_reply: "¿En qué podemos ayudarle hoy?",
    thanks_reply: "De nada, estamos encantados de ayudarle.",
    regards: "Saludos cordiales",
    team: "el equipo",
};

const FR: Phrases = Phrases {
    hello: "Bonjour",
    hey: "Bonjour",
    thanks_review: "Merci pour votre avis.",
    thanks_message: "Merci pour votre message.",
    glad: "Nous sommes ravis que vous ayez apprécié.",
    sorry: "Nous sommes désolés de votre expérience.",
    sorry_warm: "Nous sommes sincèrement désolés et nous comprenons à quel point c'est frustrant.",
    answer: "Voici ce que nous pouvons vous dire :",
    follow_up: "Une personne de notre équipe vous répondra très bientôt avec les détails.",
    order: "Nous vérifions la commande {order} dès maintenant.",
    make_right: "Merci de nous envoyer un message privé afin que nous puissions arranger les choses.",
    welcome_back: "Nous espérons vous revoir bientôt.",
    help_more: "N'hésitez pas à nous dire si nous pouvons vous aider pour autre chose.",
    greeting_reply: "Comment pouvons-nous vous aider aujourd'hui ?",
    thanks_reply: "Avec plaisir, nous sommes heureux de vous aider.",
    regards: "Cordialement",
    team: "l'équipe",
};

const DE: Phrases = Phrases {
    hello: "Hallo",
    hey: "Hallo",
    thanks_review: "Vielen Dank für Ihre Bewertung.",
    thanks_message: "Vielen Dank für Ihre Nachricht.",
    glad: "Wir freuen uns sehr, dass es Ihnen gefallen hat.",
    sorry: "Es tut uns leid, dass Sie diese Erfahrung gemacht haben.",
    sorry_warm: "Es tut uns wirklich leid, und wir verstehen, wie ärgerlich das sein muss.",
    answer: "Das können wir Ihnen dazu sagen:",
    follow_up: "Jemand aus unserem Team meldet sich in Kürze mit den Einzelheiten bei Ihnen.",
    order: "Wir prüfen die Bestellung {order} sofort.",
    make_right: "Bitte schreiben Sie uns eine private Nachricht, damit wir das in Ordnung bringen können.",
    welcome_back: "Wir hoffen, Sie bald wieder bei uns begrüßen zu dürfen.",
    help_more: "Sagen Sie uns gern, ob wir Ihnen noch bei etwas anderem helfen können.",
    greeting_reply: "Wie können wir Ihnen heute helfen?",
    thanks_reply: "Gern geschehen, wir helfen Ihnen gerne.",
    regards: "Mit freundlichen Grüßen",
    team: "Ihr Team",
};

const IT: Phrases = Phrases {
    hello: "Buongiorno",
    hey: "Ciao",
    thanks_review: "Grazie per la sua recensione.",
    thanks_message: "Grazie per il suo messaggio.",
    glad: "Siamo felici che le sia piaciuto.",
    sorry: "Ci dispiace per la sua esperienza.",
    sorry_warm: "Ci dispiace davvero per quanto accaduto e capiamo quanto sia frustrante.",
    answer: "Ecco cosa possiamo dirle:",
    follow_up: "Una persona del nostro team le risponderà a breve con i dettagli.",
    order: "Stiamo controllando subito l'ordine {order}.",
    make_right: "Ci invii un messaggio privato, così potremo rimediare.",
    welcome_back: "Speriamo di rivederla presto.",
    help_more: "Ci faccia sapere se possiamo aiutarla in altro.",
    greeting_reply: "Come possiamo aiutarla oggi?",
    thanks_reply: "Prego, siamo felici di aiutarla.",
    regards: "Cordiali saluti",
    team: "il team",
};

const PT: Phrases = Phrases {
    hello: "Olá",
    hey: "Olá",
    thanks_review: "Obrigado pela sua avaliação.",
    thanks_message: "Obrigado pela sua mensagem.",
    glad: "Ficamos muito felizes por ter gostado.",
    sorry: "Lamentamos muito a sua experiência.",
    sorry_warm: "Lamentamos sinceramente o que aconteceu e entendemos como deve ser frustrante.",
    answer: "Eis o que podemos dizer:",
    follow_up: "Uma pessoa da nossa equipa vai responder em breve com os detalhes.",
    order: "Estamos a verificar a encomenda {order} neste momento.",
    make_right: "Por favor, envie-nos uma mensagem privada para podermos resolver isto.",
    welcome_back: "Esperamos voltar a vê-lo em breve.",
    help_more: "Diga-nos se podemos ajudar com mais alguma coisa.",
    greeting_reply: "Como podemos ajudar hoje?",
    thanks_reply: "De nada, temos todo o gosto em ajudar.",
    regards: "Com os melhores cumprimentos",
    team: "a equipa",
};

const NL: Phrases = Phrases {
    hello: "Hallo",
    hey: "Hoi",
    thanks_review: "Bedankt voor uw beoordeling.",
    thanks_message: "Bedankt voor uw bericht.",
    glad: "Wat fijn dat u ervan genoten heeft.",
    sorry: "Het spijt ons dat u deze ervaring heeft gehad.",
    sorry_warm: "Het spijt ons echt en we begrijpen hoe vervelend dit moet zijn.",
    answer: "Dit kunnen we u vertellen:",
    follow_up: "Iemand van ons team neemt snel contact met u op met de details.",
    order: "We bekijken bestelling {order} meteen.",
    make_right: "Stuur ons een privébericht zodat we het kunnen oplossen.",
    welcome_back: "We hopen u snel weer te zien.",
    help_more: "Laat het ons weten als we u ergens anders mee kunnen helpen.",
    greeting_reply: "Waarmee kunnen we u vandaag helpen?",
    thanks_reply: "Graag gedaan, we helpen u graag.",
    regards: "Met vriendelijke groet",
    team: "het team",
};

/// The table for `language` (English for languages without one) and whether it is the
/// requested language.
pub(super) fn for_language(language: Language) -> (&'static Phrases, bool) {
    match language {
        Language::En => (&EN, true),
        Language::Es => (&ES, true),
        Language::Fr => (&FR, true),
        Language::De => (&DE, true),
        Language::It => (&IT, true),
        Language::Pt => (&PT, true),
        Language::Nl => (&NL, true),
        Language::Pl | Language::Sv | Language::Tr | Language::Ru => (&EN, false),
    }
}

/// Words of greetings, in every language with a table.
pub(super) const GREETING_WORDS: &[&str] = &[
    "hi", "hello", "hey", "hiya", "morning", "evening", "afternoon", "good", "hola", "buenos", "buenas", "dias",
    "días", "tardes", "noches", "bonjour", "bonsoir", "salut", "coucou", "hallo", "guten", "tag", "morgen", "moin",
    "servus", "ciao", "buongiorno", "buonasera", "salve", "olá", "ola", "oi", "bom", "dia", "boa", "tarde", "hoi",
    "goedemorgen", "goedemiddag", "dag", "yo",
];

/// Words of thanks.
pub(super) const THANKS_WORDS: &[&str] = &[
    "thanks", "thank", "thx", "ty", "cheers", "gracias", "merci", "danke", "dankeschön", "grazie", "obrigado",
    "obrigada", "bedankt", "dank", "appreciated", "appreciate",
];

/// Words that may accompany a greeting or thanks without asking anything.
pub(super) const FILLER_WORDS: &[&str] = &[
    "you", "so", "much", "very", "a", "lot", "again", "all", "there", "team", "guys", "everyone", "ok", "okay",
    "great", "perfect", "many", "muchas", "mucho", "mille", "beaucoup", "vielen", "vielmals", "schön", "sehr",
    "tante", "molte", "muito", "muitas", "je", "wel", "u", "wellen", "folks", "and", "y", "et", "und", "e", "en",
    "the", "to", "for", "everything", "todo", "tout", "alles", "tutto", "tudo", "alle", "nice", "awesome",
];
