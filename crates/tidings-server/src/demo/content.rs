//! The demo's sample texts, in English, Portuguese, German, Spanish and French. Data only: the
//! seeder composes reviews from these sentences (one about the place, one general), and the
//! simulator draws its live messages and ratings from here.

/// The kind of place a text is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Venue {
    /// The restaurant in Lisbon.
    Restaurant,
    /// The hotel in Berlin.
    Hotel,
    /// The café in Austin.
    Cafe,
    /// Fits any of them.
    Any,
}

/// How a review feels; its sentences, title and reply match its stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    /// Four or five stars.
    Happy,
    /// Three stars.
    Mixed,
    /// One or two stars.
    Unhappy,
}

impl Mood {
    /// The mood of a star rating.
    pub fn of(rating: u8) -> Mood {
        match rating {
            4.. => Mood::Happy,
            3 => Mood::Mixed,
            _ => Mood::Unhappy,
        }
    }
}

use Mood::{Happy, Mixed, Unhappy};
use Venue::{Any, Cafe, Hotel, Restaurant};

/// Review sentences: `(language, venue, mood, text)`.
pub const SENTENCES: &[(&str, Venue, Mood, &str)] = &[
    // English
    ("en", Restaurant, Happy, "The grilled octopus was the best thing I ate in Lisbon."),
    ("en", Restaurant, Happy, "Lovely terrace, perfectly cooked sea bass and a vinho verde the waiter chose for us."),
    ("en", Restaurant, Happy, "We came for the cataplana and stayed for the pastel de nata with port."),
    ("en", Restaurant, Mixed, "Food was tasty but we waited almost forty minutes for our mains."),
    ("en", Restaurant, Mixed, "Good fish, but the room gets very loud on a Friday night."),
    ("en", Restaurant, Unhappy, "My steak came out cold and nobody checked on our table for half an hour."),
    ("en", Restaurant, Unhappy, "We had a booking and still waited at the door for twenty minutes."),
    ("en", Hotel, Happy, "Quiet room facing the courtyard, comfy bed and a great breakfast buffet."),
    ("en", Hotel, Happy, "Perfect base for Mitte: five minutes to the U-Bahn and the staff had tips for everything."),
    ("en", Hotel, Happy, "They let us check in early after a night flight, which we really appreciated."),
    ("en", Hotel, Mixed, "The room was clean but smaller than the photos suggest."),
    ("en", Hotel, Mixed, "Nice location, although the street can be noisy until late."),
    ("en", Hotel, Unhappy, "The air conditioning did not work and we were moved to another room at midnight."),
    ("en", Hotel, Unhappy, "Shower drained so slowly the bathroom flooded every morning."),
    ("en", Cafe, Happy, "Best flat white on South Congress, and the breakfast tacos are unreal."),
    ("en", Cafe, Happy, "Great spot to work for a few hours: fast wifi, plenty of outlets, friendly baristas."),
    ("en", Cafe, Happy, "The cold brew is smooth and the kolaches sell out for a reason."),
    ("en", Cafe, Mixed, "Coffee is good but the line on Saturday mornings is out the door."),
    ("en", Cafe, Mixed, "Tasty pastries, but it was hard to find a table."),
    ("en", Cafe, Unhappy, "Waited fifteen minutes for a latte that came out lukewarm."),
    ("en", Cafe, Unhappy, "They got my order wrong twice and the music was way too loud."),
    ("en", Any, Happy, "The staff were warm and attentive from start to finish."),
    ("en", Any, Happy, "Fair prices for the quality. We will definitely be back."),
    ("en", Any, Happy, "Already recommended it to friends."),
    ("en", Any, Mixed, "Service was friendly, if a bit slow."),
    ("en", Any, Mixed, "A bit pricey for what you get, but pleasant overall."),
    ("en", Any, Unhappy, "Disappointing given the good reviews."),
    ("en", Any, Unhappy, "When I mentioned it, the manager just shrugged. Will not return."),
    // Portuguese
    ("pt", Restaurant, Happy, "O polvo à lagareiro estava perfeito e o bacalhau também não desiludiu."),
    ("pt", Restaurant, Happy, "Esplanada agradável e peixe fresquíssimo, como deve ser."),
    ("pt", Restaurant, Mixed, "A comida é boa, mas esperámos muito tempo pelos pratos principais."),
    ("pt", Restaurant, Unhappy, "O arroz de marisco veio salgado e frio."),
    ("pt", Hotel, Happy, "Quarto silencioso, cama confortável e pequeno-almoço excelente."),
    ("pt", Hotel, Mixed, "Bem localizado, mas o quarto é pequeno."),
    ("pt", Hotel, Unhappy, "O ar condicionado não funcionava e ninguém resolveu."),
    ("pt", Cafe, Happy, "Ótimo café e os pastéis são deliciosos."),
    ("pt", Cafe, Mixed, "Bom café, mas muita fila ao fim de semana."),
    ("pt", Cafe, Unhappy, "O meu pedido veio errado duas vezes."),
    ("pt", Any, Happy, "Atendimento simpático e atencioso. Voltaremos de certeza!"),
    ("pt", Any, Happy, "Preço justo pela qualidade."),
    ("pt", Any, Mixed, "O serviço foi simpático mas um pouco lento."),
    ("pt", Any, Unhappy, "Uma desilusão, esperava muito mais."),
    // German
    ("de", Restaurant, Happy, "Der gegrillte Oktopus war hervorragend, dazu ein toller Weißwein."),
    ("de", Restaurant, Happy, "Sehr frischer Fisch und eine wunderschöne Terrasse."),
    ("de", Restaurant, Mixed, "Das Essen war gut, aber wir mussten lange auf die Hauptgerichte warten."),
    ("de", Restaurant, Unhappy, "Das Steak kam kalt an und niemand hat nachgefragt."),
    ("de", Hotel, Happy, "Ruhiges Zimmer zum Innenhof, bequemes Bett und ein sehr gutes Frühstück."),
    ("de", Hotel, Happy, "Top Lage in Mitte, die U-Bahn ist in fünf Minuten erreichbar."),
    ("de", Hotel, Happy, "Wir durften nach dem Nachtflug früher einchecken, sehr entgegenkommend."),
    ("de", Hotel, Mixed, "Sauberes Zimmer, aber deutlich kleiner als auf den Fotos."),
    ("de", Hotel, Mixed, "Gute Lage, allerdings ist die Straße abends ziemlich laut."),
    ("de", Hotel, Unhappy, "Die Klimaanlage war defekt und wir mussten um Mitternacht umziehen."),
    ("de", Hotel, Unhappy, "Die Dusche lief jeden Morgen über, das Bad stand unter Wasser."),
    ("de", Cafe, Happy, "Sehr guter Kaffee und leckere Frühstückstacos."),
    ("de", Cafe, Mixed, "Guter Kaffee, aber am Wochenende sehr voll."),
    ("de", Cafe, Unhappy, "Fünfzehn Minuten auf einen lauwarmen Latte gewartet."),
    ("de", Any, Happy, "Das Personal war herzlich und aufmerksam. Gerne wieder!"),
    ("de", Any, Happy, "Preis-Leistung stimmt absolut."),
    ("de", Any, Mixed, "Freundlicher, aber etwas langsamer Service."),
    ("de", Any, Unhappy, "Leider eine Enttäuschung, wir kommen nicht wieder."),
    // Spanish
    ("es", Restaurant, Happy, "El pulpo a la brasa estaba espectacular y el vino, muy bien elegido."),
    ("es", Restaurant, Mixed, "La comida estaba rica, pero tardaron mucho en servir los principales."),
    ("es", Restaurant, Unhappy, "Tuvimos reserva y aun así esperamos veinte minutos en la puerta."),
    ("es", Hotel, Happy, "Habitación tranquila, cama cómoda y un desayuno muy completo."),
    ("es", Hotel, Mixed, "Buena ubicación, pero la habitación es pequeña."),
    ("es", Hotel, Unhappy, "El aire acondicionado no funcionaba y nadie lo arregló."),
    ("es", Cafe, Happy, "El mejor café de la zona y los tacos de desayuno están buenísimos."),
    ("es", Cafe, Happy, "Sitio ideal para trabajar: buen wifi y baristas muy amables."),
    ("es", Cafe, Mixed, "Buen café, aunque los sábados la fila es enorme."),
    ("es", Cafe, Unhappy, "Se equivocaron dos veces con mi pedido."),
    ("es", Any, Happy, "El personal fue encantador. ¡Volveremos seguro!"),
    ("es", Any, Happy, "Muy buena relación calidad-precio."),
    ("es", Any, Mixed, "El servicio fue amable, aunque algo lento."),
    ("es", Any, Unhappy, "Una decepción, esperaba mucho más."),
    // French
    ("fr", Restaurant, Happy, "Le poulpe grillé était délicieux et le service aux petits soins."),
    ("fr", Restaurant, Mixed, "Cuisine savoureuse mais beaucoup d'attente entre les plats."),
    ("fr", Restaurant, Unhappy, "Plat arrivé froid et personne pour s'en excuser."),
    ("fr", Hotel, Happy, "Chambre calme sur cour, literie confortable et excellent petit-déjeuner."),
    ("fr", Hotel, Mixed, "Bien situé, mais la chambre est plus petite que sur les photos."),
    ("fr", Hotel, Unhappy, "La climatisation était en panne et on nous a changés de chambre à minuit."),
    ("fr", Cafe, Happy, "Excellent café et pâtisseries maison, l'endroit idéal pour travailler."),
    ("fr", Cafe, Mixed, "Bon café, mais difficile de trouver une table."),
    ("fr", Cafe, Unhappy, "Latte tiède après quinze minutes d'attente."),
    ("fr", Any, Happy, "Équipe adorable et rapport qualité-prix imbattable. On reviendra !"),
    ("fr", Any, Happy, "Je recommande sans hésiter."),
    ("fr", Any, Mixed, "Accueil sympathique, mais service un peu lent."),
    ("fr", Any, Unhappy, "Très déçus, nous ne reviendrons pas."),
];

/// TripAdvisor titles: `(language, mood, title)`.
pub const TITLES: &[(&str, Mood, &str)] = &[
    ("en", Happy, "A gem, don't miss it"),
    ("en", Happy, "Exceeded our expectations"),
    ("en", Happy, "Our favourite of the trip"),
    ("en", Mixed, "Good, not great"),
    ("en", Mixed, "Nice but overpriced"),
    ("en", Unhappy, "Not what we hoped for"),
    ("en", Unhappy, "Avoid on weekends"),
    ("pt", Happy, "Simplesmente excelente"),
    ("pt", Mixed, "Bom, mas pode melhorar"),
    ("pt", Unhappy, "Não recomendo"),
    ("de", Happy, "Absolut empfehlenswert"),
    ("de", Happy, "Ein echter Geheimtipp"),
    ("de", Mixed, "Gut, aber nicht überragend"),
    ("de", Unhappy, "Leider enttäuschend"),
    ("es", Happy, "Una joya"),
    ("es", Mixed, "Correcto sin más"),
    ("es", Unhappy, "No volveremos"),
    ("fr", Happy, "Une adresse à retenir"),
    ("fr", Mixed, "Correct, sans plus"),
    ("fr", Unhappy, "Très décevant"),
];

/// The owner's replies: `(language, mood, text)`.
pub const REPLIES: &[(&str, Mood, &str)] = &[
    (
        "en",
        Happy,
        "Thank you so much for the kind words! We're delighted you enjoyed your visit and hope to see you again soon.",
    ),
    ("en", Happy, "What a lovely review, thank you! We've shared it with the whole team."),
    (
        "en",
        Mixed,
        "Thanks for the honest feedback. We're working on our waiting times and hope to give you a smoother visit next time.",
    ),
    (
        "en",
        Unhappy,
        "We're very sorry about your experience. This is not our standard; please write to hello@harbourandvine.example so we can make it right.",
    ),
    ("pt", Happy, "Muito obrigado pelas palavras simpáticas! Esperamos vê-lo em breve."),
    ("pt", Mixed, "Obrigado pelo comentário sincero. Estamos a trabalhar para melhorar."),
    ("pt", Unhappy, "Lamentamos muito a sua experiência. Por favor contacte-nos para podermos resolver."),
    ("de", Happy, "Vielen Dank für die tolle Bewertung! Wir freuen uns auf Ihren nächsten Besuch."),
    (
        "de",
        Mixed,
        "Danke für das ehrliche Feedback. Wir arbeiten daran und hoffen, Sie bald wieder begrüßen zu dürfen.",
    ),
    ("de", Unhappy, "Es tut uns sehr leid. Bitte melden Sie sich bei uns, damit wir das wiedergutmachen können."),
    ("es", Happy, "¡Muchas gracias por tus palabras! Te esperamos pronto."),
    ("es", Mixed, "Gracias por tu opinión sincera, ya estamos trabajando en ello."),
    ("es", Unhappy, "Sentimos mucho lo ocurrido. Escríbenos y lo solucionamos."),
    ("fr", Happy, "Merci infiniment pour ce beau message ! À très bientôt."),
    ("fr", Mixed, "Merci pour votre retour sincère, nous travaillons à nous améliorer."),
    ("fr", Unhappy, "Nous sommes sincèrement désolés. Contactez-nous afin que nous puissions arranger les choses."),
];

/// Reviewer and sender names: `(language, name)`.
pub const NAMES: &[(&str, &str)] = &[
    ("en", "Emily Carter"),
    ("en", "James O'Neill"),
    ("en", "Priya Shah"),
    ("en", "Michael Brooks"),
    ("en", "Sophie Turner"),
    ("en", "Daniel Kim"),
    ("en", "Hannah Lee"),
    ("en", "Chris Morgan"),
    ("en", "Olivia Bennett"),
    ("en", "Tyler Reed"),
    ("pt", "Ana Ribeiro"),
    ("pt", "João Martins"),
    ("pt", "Inês Carvalho"),
    ("pt", "Miguel Sousa"),
    ("pt", "Beatriz Costa"),
    ("de", "Lena Schmidt"),
    ("de", "Jonas Weber"),
    ("de", "Katrin Hoffmann"),
    ("de", "Felix Wagner"),
    ("de", "Sabine Becker"),
    ("es", "Lucía Fernández"),
    ("es", "Carlos Ruiz"),
    ("es", "María González"),
    ("es", "Diego Morales"),
    ("es", "Valentina Torres"),
    ("fr", "Camille Dubois"),
    ("fr", "Julien Moreau"),
    ("fr", "Chloé Laurent"),
    ("fr", "Antoine Girard"),
    ("fr", "Manon Lefèvre"),
];

/// A seeded message thread: who wrote, where, and the messages in order (`true`: sent by the
/// business).
#[derive(Debug, Clone, Copy)]
pub struct SeedThread {
    /// Language of the customer's messages.
    pub lang: &'static str,
    /// The place it is about (picks the location).
    pub venue: Venue,
    /// The messaging platform.
    pub platform: &'static str,
    /// The customer's platform id (PSID, IGSID, wa_id, X user id).
    pub sender_id: &'static str,
    /// The customer's name.
    pub sender_name: &'static str,
    /// The messages, oldest first.
    pub messages: &'static [(bool, &'static str)],
}

const fn thread(
    lang: &'static str,
    venue: Venue,
    platform: &'static str,
    sender_id: &'static str,
    sender_name: &'static str,
    messages: &'static [(bool, &'static str)],
) -> SeedThread {
    SeedThread { lang, venue, platform, sender_id, sender_name, messages }
}

/// The seeded conversations (about twenty, one to four messages each).
pub const THREADS: &[SeedThread] = &[
    thread(
        "en",
        Restaurant,
        "messenger",
        "7310000000000101",
        "Emily Carter",
        &[
            (false, "Hi! Do you have a table for 6 this Saturday around 8pm?"),
            (true, "Hi Emily! Yes, we can seat six at 8pm on the terrace. Shall I book it under your name?"),
            (false, "Perfect, yes please. One of us is vegetarian, is that ok?"),
        ],
    ),
    thread(
        "pt",
        Restaurant,
        "whatsapp",
        "351912345601",
        "Ana Ribeiro",
        &[(false, "Boa tarde, ainda têm mesa para hoje ao jantar para dois?")],
    ),
    thread(
        "en",
        Restaurant,
        "instagram",
        "17841400000000202",
        "Priya Shah",
        &[
            (false, "Loved the octopus last night 😍 is the recipe a secret?"),
            (true, "Thank you Priya! Chef says it's olive oil, garlic and patience 😄"),
        ],
    ),
    thread(
        "fr",
        Restaurant,
        "messenger",
        "7310000000000102",
        "Camille Dubois",
        &[
            (false, "Bonjour, proposez-vous un menu sans gluten ?"),
            (true, "Bonjour Camille, oui, la plupart de nos plats de poisson peuvent être préparés sans gluten."),
            (false, "Super, merci ! Nous viendrons jeudi."),
            (false, "Est-ce qu'il faut réserver ?"),
        ],
    ),
    thread(
        "es",
        Restaurant,
        "whatsapp",
        "34611222301",
        "Carlos Ruiz",
        &[
            (false, "Hola, ¿se puede reservar para un cumpleaños de 12 personas el domingo?"),
            (false, "Sería para comer, sobre las 14h."),
        ],
    ),
    thread(
        "en",
        Restaurant,
        "messenger",
        "7310000000000103",
        "James O'Neill",
        &[
            (false, "I think I left my sunglasses at table 12 yesterday, black Ray-Bans."),
            (true, "Hi James, we found them! They're at the bar whenever you want to pick them up."),
            (false, "Brilliant, thank you so much!"),
        ],
    ),
    thread(
        "de",
        Hotel,
        "whatsapp",
        "491701234501",
        "Lena Schmidt",
        &[
            (false, "Hallo, ist ein Late Check-out bis 14 Uhr morgen möglich?"),
            (true, "Hallo Frau Schmidt, ja, das ist für 20 € möglich. Sollen wir es eintragen?"),
            (false, "Ja gerne, danke!"),
        ],
    ),
    thread(
        "en",
        Hotel,
        "messenger",
        "7310000000000201",
        "Michael Brooks",
        &[(false, "Hello, do you have parking at the hotel? Arriving by car on the 14th.")],
    ),
    thread(
        "de",
        Hotel,
        "messenger",
        "7310000000000202",
        "Jonas Weber",
        &[
            (false, "Guten Tag, kann ich ein Zustellbett für unser Kind dazubuchen?"),
            (true, "Guten Tag Herr Weber, sehr gerne. Ein Kinderbett ist kostenlos."),
        ],
    ),
    thread(
        "fr",
        Hotel,
        "whatsapp",
        "33612345601",
        "Julien Moreau",
        &[
            (false, "Bonjour, la chambre 304 est très bruyante, est-il possible d'en changer ?"),
            (false, "Il y a un chantier juste en face."),
        ],
    ),
    thread(
        "en",
        Hotel,
        "whatsapp",
        "447700900101",
        "Sophie Turner",
        &[
            (false, "Hi, my flight lands at 7am. Could I drop my bags before check-in?"),
            (true, "Of course! Luggage storage is free and the café opens at 6:30."),
            (false, "Amazing, see you tomorrow!"),
        ],
    ),
    thread(
        "es",
        Hotel,
        "messenger",
        "7310000000000203",
        "María González",
        &[(false, "Hola, ¿el desayuno está incluido en la tarifa flexible?")],
    ),
    thread(
        "en",
        Cafe,
        "x",
        "1460000000000000301",
        "Tyler Reed",
        &[
            (false, "Are you open on Memorial Day? Need my cold brew fix."),
            (true, "We are! 7am to 3pm. See you there ☕"),
        ],
    ),
    thread(
        "en",
        Cafe,
        "instagram",
        "17841400000000301",
        "Hannah Lee",
        &[(false, "Do you do oat milk? And is the banana bread vegan?")],
    ),
    thread(
        "es",
        Cafe,
        "x",
        "1460000000000000302",
        "Diego Morales",
        &[
            (false, "¿Tienen opciones sin lactosa?"),
            (true, "¡Hola Diego! Sí: avena, almendra y soja."),
            (false, "¡Genial, gracias!"),
        ],
    ),
    thread(
        "en",
        Cafe,
        "messenger",
        "7310000000000301",
        "Chris Morgan",
        &[
            (false, "Hey, do you cater office breakfasts? About 30 people next Friday."),
            (true, "Hi Chris! Yes, we do breakfast tacos and pastry boxes. Can you share the address?"),
            (false, "Sure: 500 W 2nd St, 9am. What would it cost roughly?"),
            (false, "Also need a couple of gluten-free options."),
        ],
    ),
    thread(
        "en",
        Cafe,
        "x",
        "1460000000000000303",
        "Olivia Bennett",
        &[(false, "Your barista Sam made my whole week. Just wanted to say thanks!")],
    ),
    thread(
        "fr",
        Cafe,
        "instagram",
        "17841400000000302",
        "Chloé Laurent",
        &[
            (false, "Bonjour ! Vous vendez vos grains de café à emporter ?"),
            (true, "Bonjour Chloé ! Oui, en sachets de 250 g et 1 kg."),
        ],
    ),
    thread(
        "en",
        Cafe,
        "messenger",
        "7310000000000302",
        "Daniel Kim",
        &[(false, "I was charged twice for my order this morning, can you help?")],
    ),
    thread(
        "pt",
        Restaurant,
        "instagram",
        "17841400000000203",
        "Inês Carvalho",
        &[
            (false, "Olá! Fazem eventos privados? Jantar de empresa para 25 pessoas em dezembro."),
            (true, "Olá Inês! Sim, temos uma sala privada. Enviamos a proposta por email?"),
            (false, "Sim, por favor: ines.carvalho@example.pt"),
        ],
    ),
];

/// What new customers write in, for the simulator: `(language, venue, text)`.
pub const LIVE_OPENERS: &[(&str, Venue, &str)] = &[
    ("en", Restaurant, "Hi, can I book a table for two tonight at 8?"),
    ("en", Restaurant, "Do you have vegan options on the menu?"),
    ("en", Restaurant, "Is the terrace open today? It's so sunny!"),
    ("pt", Restaurant, "Olá, têm mesa para quatro amanhã ao almoço?"),
    ("es", Restaurant, "Hola, ¿tenéis menú del día?"),
    ("fr", Restaurant, "Bonjour, peut-on venir avec un chien ?"),
    ("de", Restaurant, "Hallo, habt ihr heute Abend noch einen Tisch für drei?"),
    ("en", Hotel, "Hello, is there a gym at the hotel?"),
    ("en", Hotel, "Can I get a room with a view of the courtyard?"),
    ("de", Hotel, "Guten Tag, gibt es noch ein Doppelzimmer für das Wochenende?"),
    ("de", Hotel, "Kann man bei Ihnen Fahrräder leihen?"),
    ("fr", Hotel, "Bonjour, à quelle heure est servi le petit-déjeuner ?"),
    ("es", Hotel, "Hola, ¿admiten mascotas?"),
    ("en", Cafe, "What time do you close today?"),
    ("en", Cafe, "Do you have decaf cold brew?"),
    ("en", Cafe, "Any chance you're hiring baristas?"),
    ("es", Cafe, "¿Tienen wifi para trabajar un rato?"),
    ("fr", Cafe, "Bonjour, avez-vous des viennoiseries sans gluten ?"),
];

/// What a customer adds to an ongoing conversation: `(language, text)`.
pub const LIVE_FOLLOW_UPS: &[(&str, &str)] = &[
    ("en", "Thanks! Also, is there parking nearby?"),
    ("en", "Just following up on my message above 🙂"),
    ("en", "Perfect, thank you so much!"),
    ("en", "Actually, could we make it 30 minutes later?"),
    ("pt", "Obrigado! Mais uma pergunta: aceitam cartão?"),
    ("pt", "Ainda estão aí? 🙂"),
    ("de", "Vielen Dank! Noch eine Frage: Gibt es Parkplätze?"),
    ("de", "Können wir eine halbe Stunde später kommen?"),
    ("es", "¡Gracias! ¿Aceptan tarjeta?"),
    ("es", "¿Hay aparcamiento cerca?"),
    ("fr", "Merci beaucoup ! Et vous acceptez la carte ?"),
    ("fr", "Pouvons-nous venir une demi-heure plus tard ?"),
];

/// Facebook ratings the simulator sends: `(language, rating, text)`.
pub const LIVE_RATINGS: &[(&str, u8, &str)] = &[
    ("en", 5, "Wonderful evening, the staff made my mum's birthday so special."),
    ("en", 5, "Great coffee, great people. My daily stop."),
    ("en", 4, "Really good, just a little busy."),
    ("en", 1, "Waited ages and the order was wrong. Not impressed."),
    ("pt", 5, "Adorámos! Comida excelente e serviço impecável."),
    ("de", 5, "Super Frühstück und sehr freundliches Team."),
    ("de", 2, "Zimmer war leider nicht sauber."),
    ("es", 5, "¡Todo buenísimo, volveremos!"),
    ("fr", 4, "Très bonne adresse, un peu d'attente."),
];

#[cfg(test)]
mod tests {
    use super::*;

    const LANGUAGES: [&str; 5] = ["en", "pt", "de", "es", "fr"];

    #[test]
    fn every_language_and_mood_has_a_general_sentence_a_title_and_a_reply() {
        for lang in LANGUAGES {
            for mood in [Happy, Mixed, Unhappy] {
                assert!(SENTENCES.iter().any(|s| s.0 == lang && s.1 == Any && s.2 == mood), "{lang} {mood:?}");
                assert!(TITLES.iter().any(|t| t.0 == lang && t.1 == mood), "title {lang} {mood:?}");
                assert!(REPLIES.iter().any(|r| r.0 == lang && r.1 == mood), "reply {lang} {mood:?}");
                for venue in [Restaurant, Hotel, Cafe] {
                    assert!(
                        SENTENCES.iter().any(|s| s.0 == lang && s.1 == venue && s.2 == mood),
                        "{lang} {venue:?} {mood:?}"
                    );
                }
            }
            assert!(NAMES.iter().any(|n| n.0 == lang));
        }
    }

    #[test]
    fn threads_have_one_to_four_messages_starting_with_the_customer() {
        assert!(THREADS.len() >= 20);
        for t in THREADS {
            assert!((1..=4).contains(&t.messages.len()), "{}", t.sender_id);
            assert!(!t.messages[0].0, "{} starts with the customer", t.sender_id);
        }
    }
}
